// Forwarder: sends requests bound to one device to that device's agent. It runs
// `threads` workers (the device's slots plus the pipelining depth), each with its
// own keep-alive connection, so bound requests go out at once.
//
// Owns its threads. Push() and Stop() are thread-safe; the callback runs on a
// worker thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "http/client.h"

namespace heteroaccel::server {

struct ForwardTask {
  uint64_t id = 0;
  int attempt = 0;
  double server_queue_ms = 0;  // from arrival at the server to this attempt's binding
  bool v1 = false;             // POST /v1/infer/{type} instead of the v2 endpoint
  std::string type;
  std::string variant;
  std::shared_ptr<const std::string> body;
  std::optional<size_t> header_length;  // binary tensor extension
  std::string content_type;
};

class Forwarder {
 public:
  using Callback =
      std::function<void(const ForwardTask&, absl::StatusOr<http::ClientResponse>, double seconds)>;
  Forwarder(std::string agent_url, std::string device_id, int threads,
            std::chrono::milliseconds timeout, Callback callback);
  ~Forwarder();

  void Push(ForwardTask task);
  void Stop();
  const std::string& agent_url() const { return agent_url_; }

 private:
  void Run();
  absl::StatusOr<http::ClientResponse> Send(std::unique_ptr<http::Client>& client,
                                            const ForwardTask& task);

  const std::string agent_url_;
  const std::string device_id_;
  const std::chrono::milliseconds timeout_;
  const Callback callback_;
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<ForwardTask> tasks_;  // guarded by mu_
  bool stop_ = false;              // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace heteroaccel::server

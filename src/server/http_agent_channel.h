// HttpAgentChannel: the AgentChannel that forwards each call to its device's
// agent over HTTP. Every device gets its own workers (its slots plus the
// pipelining depth), each with a keep-alive connection, so bound requests go
// out at once; the request carries the contract's forwarding headers
// (cluster/contract.h) and the answer is passed on as the agent wrote it.
//
// Classification of what comes back (AgentReply::Kind): 200 and the agent's
// request errors (4xx other than 404 and 429) are answers; 429 is busy; 5xx,
// 404 (the variant is not loaded there), a timeout or an unreadable answer is a
// failure on that device; a connection that cannot be made or breaks is
// unreachable.
//
// Owns its worker threads. Thread-safe; replies run on the worker threads.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "server/agent_channel.h"

namespace heteroaccel::server {

class HttpAgentChannel final : public AgentChannel {
 public:
  explicit HttpAgentChannel(std::chrono::milliseconds timeout);
  ~HttpAgentChannel() override;

  void SetReplyCallback(ReplyCallback callback) override;
  void AddDevice(const scheduler::DeviceKey& device, const std::string& url,
                 int concurrency) override;
  void RemoveDevice(const scheduler::DeviceKey& device) override;
  void Send(AgentCall call) override;
  void Stop() override;

  class Forwarder;

 private:
  // Closes a forwarder and keeps it until its last call is back; returns the
  // calls it never sent, to be replied to once mu_ is released.
  std::deque<AgentCall> Retire(const std::shared_ptr<Forwarder>& forwarder)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::chrono::milliseconds timeout_;
  ReplyCallback callback_;
  std::mutex mu_;
  std::map<scheduler::DeviceKey, std::shared_ptr<Forwarder>> forwarders_ ABSL_GUARDED_BY(mu_);
  // Forwarders of removed devices finish the calls they were sending.
  std::vector<std::shared_ptr<Forwarder>> retired_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace heteroaccel::server

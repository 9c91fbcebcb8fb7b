// Helpers for end-to-end tests against a real heteroaccel server: which nodes it
// sees, waiting for them, and reading its newline-delimited JSON answers (fleet
// runs, deploys). Thread-safe (no shared state).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace heteroaccel::testing {

// Node name -> up, from GET /v1/cluster; empty when the server does not answer.
std::map<std::string, bool> ClusterNodes(const std::string& server_url);
// Waits until every node in `wanted` has its up state, or the timeout.
bool WaitForNodes(const std::string& server_url, const std::map<std::string, bool>& wanted,
                  std::chrono::milliseconds timeout);
// Waits until `count` nodes are up, or the timeout.
bool WaitForNodesUp(const std::string& server_url, size_t count, std::chrono::milliseconds timeout);
// The JSON objects of a newline-delimited answer; other lines are skipped.
std::vector<nlohmann::json> NdjsonEvents(std::string_view body);
// A run's answer: each "result" event by its node, and the "done" event under "".
std::map<std::string, nlohmann::json> RunResults(std::string_view body);

// Sends requests on its own thread, one after another, until Stop() (or its
// destruction, so that an assertion returning early still stops it): `send`
// answers "" for a success, else what went wrong.
class RequestLoop {
 public:
  explicit RequestLoop(std::function<std::string()> send);
  ~RequestLoop() { Stop(); }
  RequestLoop(const RequestLoop&) = delete;
  RequestLoop& operator=(const RequestLoop&) = delete;
  void Stop();
  int ok() const { return ok_; }
  int failed() const { return failed_; }
  std::string first_error() const;

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> ok_{0}, failed_{0};
  mutable std::mutex mu_;
  std::string first_error_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace heteroaccel::testing

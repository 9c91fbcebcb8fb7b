// HistoryProxy: the dashboard's history charts read Prometheus through the
// server (one origin for the browser): GET /v1/history/query_range and
// /v1/history/query are passed to the configured Prometheus's /api/v1/...
// on a worker thread (the HTTP client blocks), at most `max_waiting` at once.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "http/message.h"

namespace heteroaccel::server {

class HistoryProxy {
 public:
  // `prometheus` "" answers every query 503 ("no Prometheus configured").
  explicit HistoryProxy(std::string prometheus, size_t max_waiting = 32);
  ~HistoryProxy();

  bool configured() const { return !prometheus_.empty(); }
  // `api` is "query_range" or "query"; `query` the request's raw query string.
  void Forward(const std::string& api, std::string_view query, http::Responder respond);

 private:
  void Run();

  const std::string prometheus_;
  const size_t max_waiting_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace heteroaccel::server

// WebhookSink: POSTs each event message as JSON to one URL, from its own
// worker thread, retrying what may succeed later.
//
// Only http:// URLs are supported (the http component's client has no TLS);
// Create refuses https:// with a message saying so. Put a TLS-terminating
// proxy next to the server to reach an https endpoint.
//
// Delivery of one message, in queue order:
//   1. POST <url> with Content-Type: application/json, User-Agent:
//      heteroaccel and, when a secret is configured,
//      X-HeteroAccel-Signature: sha256=<hex HMAC-SHA256 of the body with the secret>.
//   2. 2xx: delivered.
//   3. Transport errors (refused, reset, timeout), 5xx and 429: retried after
//      initial_backoff, doubling up to max_backoff; a Retry-After of n seconds
//      replaces the back-off for that wait. Gives up (failed) after
//      max_attempts attempts or once the message is older than max_age.
//   4. Any other status (4xx, 3xx, 1xx): failed at once, never retried.
// A message being retried holds back the ones behind it (order is kept).
//
// Send never blocks: messages wait in a bounded queue (max_queue; when full
// the oldest waiting one is dropped and counted). Messages still queued when
// the sink is destroyed are lost; the destructor waits at most for the
// attempt in progress (bounded by `timeout`).
//
// Counters: delivered, retried (attempts after the first), failed, dropped,
// queued (waiting now).
//
// Ownership and threading: Create returns the owner, whose destructor joins
// the worker. Every method is thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"

namespace heteroaccel::http {
class Client;
}

namespace heteroaccel::events {

struct WebhookOptions {
  std::string url;     // http://host[:port][/path][?query]
  std::string secret;  // "" = no signature header
  size_t max_queue = 1000;
  int max_attempts = 8;
  std::chrono::milliseconds max_age{std::chrono::minutes(10)};
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{30'000};
  std::chrono::milliseconds timeout{10'000};  // one attempt: connect + send + answer
};

struct WebhookCounters {
  uint64_t delivered = 0;
  uint64_t retried = 0;
  uint64_t failed = 0;
  uint64_t dropped = 0;
  uint64_t queued = 0;
};

class WebhookSink {
 public:
  // InvalidArgument for a URL that is not http://host[:port][/path] (naming
  // the URL; https says it is not supported) or bad limits.
  static absl::StatusOr<std::unique_ptr<WebhookSink>> Create(WebhookOptions options);
  ~WebhookSink();
  WebhookSink(const WebhookSink&) = delete;
  WebhookSink& operator=(const WebhookSink&) = delete;

  void Send(const nlohmann::json& message);

  WebhookCounters counters() const;
  const WebhookOptions& options() const { return options_; }

  // "sha256=<lower-case hex HMAC-SHA256(secret, body)>": what receivers check.
  static std::string Signature(std::string_view secret, std::string_view body);

 private:
  struct Item {
    std::string body;
    std::chrono::steady_clock::time_point enqueued;
  };

  WebhookSink(WebhookOptions options, std::string base_url, std::string path);
  void Run();
  void Deliver(http::Client& client, const Item& item);
  // Waits `delay` unless stopped first; false when stopped.
  bool Sleep(std::chrono::milliseconds delay);

  const WebhookOptions options_;
  const std::string base_url_;  // http://host:port
  const std::string path_;      // /path?query

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  WebhookCounters counters_ ABSL_GUARDED_BY(mu_);
  std::thread worker_;
};

}  // namespace heteroaccel::events

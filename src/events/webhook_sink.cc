#include "events/webhook_sink.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "http/client.h"

namespace heteroaccel::events {
namespace {

std::string Dump(const nlohmann::json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool Retryable(int status) { return status >= 500 || status == 429; }

// Splits http://host[:port][/path] into "http://host:port" and "/path".
absl::StatusOr<std::pair<std::string, std::string>> SplitUrl(const std::string& url) {
  const auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(
        absl::StrCat("webhook: url \"", url, "\" ", why, "; expected http://host[:port][/path]"));
  };
  const std::string kHttp = "http://";
  if (url.rfind("https://", 0) == 0) {
    return bad(
        "uses https, which is not supported (no TLS in the http client); use http:// or a "
        "TLS-terminating proxy");
  }
  if (url.rfind(kHttp, 0) != 0) return bad("is not an http:// URL");
  if (url.size() > 2048) return bad("is longer than 2048 bytes");
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
      return bad("contains a space or control byte");
  }
  const std::string rest = url.substr(kHttp.size());
  const size_t slash = rest.find_first_of("/?");
  const std::string authority = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
  if (path.front() == '?') path = "/" + path;
  if (authority.empty() || authority.find('@') != std::string::npos) {
    return bad("has no host (or has user information)");
  }
  absl::StatusOr<std::pair<std::string, uint16_t>> host_port =
      http::ParseHostPort(absl::StrCat(kHttp, authority));
  if (!host_port.ok()) return bad(std::string(host_port.status().message()));
  return std::make_pair(absl::StrCat(kHttp, authority), path);
}

}  // namespace

std::string WebhookSink::Signature(std::string_view secret, std::string_view body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest, &length);
  return absl::StrCat("sha256=", absl::BytesToHexString(absl::string_view(
                                     reinterpret_cast<const char*>(digest), length)));
}

absl::StatusOr<std::unique_ptr<WebhookSink>> WebhookSink::Create(WebhookOptions options) {
  absl::StatusOr<std::pair<std::string, std::string>> split = SplitUrl(options.url);
  if (!split.ok()) return split.status();
  if (options.max_queue < 1 || options.max_attempts < 1 || options.initial_backoff.count() < 1 ||
      options.max_backoff < options.initial_backoff || options.timeout.count() < 1) {
    return absl::InvalidArgumentError(
        "webhook: max_queue and max_attempts must be >= 1, 0 < initial_backoff <= max_backoff, "
        "timeout > 0");
  }
  std::unique_ptr<WebhookSink> sink(
      new WebhookSink(std::move(options), std::move(split->first), std::move(split->second)));
  sink->worker_ = std::thread([s = sink.get()] { s->Run(); });
  return sink;
}

WebhookSink::WebhookSink(WebhookOptions options, std::string base_url, std::string path)
    : options_(std::move(options)), base_url_(std::move(base_url)), path_(std::move(path)) {}

WebhookSink::~WebhookSink() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void WebhookSink::Send(const nlohmann::json& message) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() >= options_.max_queue) {
      queue_.pop_front();
      ++counters_.dropped;
    }
    queue_.push_back({Dump(message), std::chrono::steady_clock::now()});
  }
  cv_.notify_all();
}

WebhookCounters WebhookSink::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  WebhookCounters c = counters_;
  c.queued = queue_.size();
  return c;
}

bool WebhookSink::Sleep(std::chrono::milliseconds delay) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, delay, [this] { return stop_; });
}

void WebhookSink::Run() {
  // The URL was checked by Create, so the client can be made; it connects lazily.
  absl::StatusOr<std::unique_ptr<http::Client>> client =
      http::Client::Create(base_url_, options_.timeout);
  if (!client.ok()) {
    spdlog::error("webhook {}: {}", options_.url, std::string(client.status().message()));
    return;
  }
  for (;;) {
    Item item;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      item = std::move(queue_.front());
      queue_.pop_front();
    }
    Deliver(**client, item);
  }
}

void WebhookSink::Deliver(http::Client& client, const Item& item) {
  http::HeaderList headers = {{"User-Agent", "heteroaccel"}};
  if (!options_.secret.empty()) {
    headers.emplace_back("X-HeteroAccel-Signature", Signature(options_.secret, item.body));
  }
  std::chrono::milliseconds backoff = options_.initial_backoff;
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<http::ClientResponse> response =
        client.Post(path_, "application/json", item.body, headers);
    if (response.ok() && response->status >= 200 && response->status < 300) {
      std::lock_guard<std::mutex> lock(mu_);
      ++counters_.delivered;
      return;
    }
    const std::string what = response.ok() ? absl::StrCat("HTTP ", response->status)
                                           : std::string(response.status().message());
    const bool retryable = !response.ok() || Retryable(response->status);
    std::chrono::milliseconds delay = backoff;
    int64_t retry_after = 0;
    const std::string_view retry_header = response.ok() ? response->Header("retry-after") : "";
    if (absl::SimpleAtoi(absl::string_view(retry_header.data(), retry_header.size()),
                         &retry_after) &&
        retry_after >= 0) {
      delay = std::chrono::milliseconds(std::min<int64_t>(retry_after, 3600) * 1000);
    }
    const auto age = std::chrono::steady_clock::now() - item.enqueued;
    if (!retryable || attempt >= options_.max_attempts || age + delay > options_.max_age) {
      spdlog::warn("webhook {}: giving up after {} attempt(s): {}", options_.url, attempt, what);
      std::lock_guard<std::mutex> lock(mu_);
      ++counters_.failed;
      return;
    }
    if (!Sleep(delay)) return;
    backoff = std::min(backoff * 2, options_.max_backoff);
    std::lock_guard<std::mutex> lock(mu_);
    ++counters_.retried;
  }
}

}  // namespace heteroaccel::events

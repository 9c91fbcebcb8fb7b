#include "server/history_proxy.h"

#include "absl/strings/str_cat.h"
#include "http/client.h"
#include "httpapi/responses.h"

namespace heteroaccel::server {
namespace {

// Only these parameters pass, each as sent (still percent-encoded) and made
// of URL-safe bytes, so nothing but a query reaches Prometheus.
absl::StatusOr<std::string> PassedQuery(const std::string& api, std::string_view query) {
  const char* keys[] = {"query", "start", "end", "step", "time"};
  std::string out;
  for (const char* key : keys) {
    const std::string value = httpapi::QueryValue(query, key);
    if (value.empty()) continue;
    if (value.size() > 4096) {
      return absl::InvalidArgumentError(absl::StrCat("'", key, "' is longer than 4096 bytes"));
    }
    for (unsigned char c : value) {
      if (c <= 0x20 || c >= 0x7f || c == '#') {
        return absl::InvalidArgumentError(
            absl::StrCat("'", key, "' must be percent-encoded (found a raw byte ", int(c), ")"));
      }
    }
    absl::StrAppend(&out, out.empty() ? "" : "&", key, "=", value);
  }
  if (httpapi::QueryValue(query, "query").empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("give a PromQL expression: /v1/history/", api, "?query=...",
                     api == "query_range" ? "&start=UNIX&end=UNIX&step=15s" : ""));
  }
  return out;
}

}  // namespace

HistoryProxy::HistoryProxy(std::string prometheus, size_t max_waiting)
    : prometheus_(std::move(prometheus)), max_waiting_(max_waiting) {
  if (configured()) worker_ = std::thread([this] { Run(); });
}

HistoryProxy::~HistoryProxy() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void HistoryProxy::Forward(const std::string& api, std::string_view query,
                           http::Responder respond) {
  if (!configured()) {
    return respond(httpapi::ErrorResponse(absl::UnavailableError(
        "no Prometheus configured: start the server with --prometheus URL for history")));
  }
  auto passed = PassedQuery(api, query);
  if (!passed.ok()) return respond(httpapi::ErrorResponse(passed.status()));
  const std::string path = absl::StrCat("/api/v1/", api, "?", *passed);
  std::lock_guard<std::mutex> lock(mu_);
  if (jobs_.size() >= max_waiting_ || stopping_) {
    return respond(httpapi::ErrorResponse(
        absl::UnavailableError("too many history queries waiting; try again shortly")));
  }
  jobs_.push_back([this, path, respond = std::move(respond)] {
    auto client = http::Client::Create(prometheus_, std::chrono::seconds(10));
    absl::StatusOr<http::ClientResponse> got =
        client.ok() ? (*client)->Get(path) : absl::StatusOr<http::ClientResponse>(client.status());
    if (!got.ok()) {
      http::Response bad = httpapi::ErrorResponse(absl::UnavailableError(absl::StrCat(
          "Prometheus at ", prometheus_, " cannot be reached: ", got.status().message())));
      bad.status = 502;
      return respond(std::move(bad));
    }
    // Prometheus's own answer, errors included ({"status":"error","error":...}).
    respond(http::Response{got->status, "application/json", {}, std::move(got->body)});
  });
  wake_.notify_one();
}

void HistoryProxy::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    lock.lock();
  }
}

}  // namespace heteroaccel::server

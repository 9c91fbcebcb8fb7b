#include "events/webhook_sink.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "http/server.h"

namespace heteroaccel::events {
namespace {

template <typename F>
bool WaitFor(F condition, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// A real HTTP server whose POST /hook answers with scripted statuses (200 once
// the script runs out) and records what it received. Held requests (hold =
// true) get no answer until Release().
class HookServer {
 public:
  struct Received {
    std::string body;
    std::string signature;
    std::string content_type;
    std::string query;
    std::chrono::steady_clock::time_point at;
  };

  explicit HookServer(std::vector<std::pair<int, std::string>> script = {}) : script_(script) {
    http::Router router;
    router.Add(
        "POST", "/hook",
        [this](http::Request&& request, const http::PathParams&, http::Responder respond) {
          std::lock_guard<std::mutex> lock(mu_);
          received_.push_back({request.body, std::string(request.Header("x-heteroaccel-signature")),
                               std::string(request.Header("content-type")), request.query,
                               std::chrono::steady_clock::now()});
          http::Response response;
          response.body = "{}";
          if (!script_.empty()) {
            response.status = script_.front().first;
            if (!script_.front().second.empty()) {
              response.headers.emplace_back("Retry-After", script_.front().second);
            }
            script_.erase(script_.begin());
          }
          if (hold_) {
            held_.emplace_back(std::move(respond), std::move(response));
            return;
          }
          respond(std::move(response));
        });
    auto server = http::Server::Create({}, std::move(router));
    EXPECT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    server_->Start();
  }

  std::string Url(const std::string& path = "/hook") const {
    return absl::StrCat("http://", server_->address(), path);
  }
  std::vector<Received> received() const {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }
  void Hold() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = true;
  }
  void Release() {
    std::vector<std::pair<http::Responder, http::Response>> held;
    {
      std::lock_guard<std::mutex> lock(mu_);
      hold_ = false;
      held.swap(held_);
    }
    for (auto& h : held) h.first(std::move(h.second));
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<int, std::string>> script_;
  std::vector<Received> received_;
  bool hold_ = false;
  std::vector<std::pair<http::Responder, http::Response>> held_;
  std::unique_ptr<http::Server> server_;
};

WebhookOptions Fast(const std::string& url) {
  WebhookOptions options;
  options.url = url;
  options.initial_backoff = std::chrono::milliseconds(20);
  options.max_backoff = std::chrono::milliseconds(100);
  options.timeout = std::chrono::seconds(5);
  return options;
}

TEST(WebhookSinkTest, FailsTwiceWith503ThenSucceedsIsDeliveredOnce) {
  HookServer server({{503, ""}, {503, ""}});
  auto sink = WebhookSink::Create(Fast(server.Url()));
  ASSERT_TRUE(sink.ok()) << sink.status();
  (*sink)->Send({{"id", "cam/r/1"}, {"type", "fall"}});
  ASSERT_TRUE(WaitFor([&] { return (*sink)->counters().delivered == 1; }));
  const std::vector<HookServer::Received> got = server.received();
  ASSERT_EQ(got.size(), 3u);
  for (const auto& r : got) {
    EXPECT_EQ(nlohmann::json::parse(r.body), (nlohmann::json{{"id", "cam/r/1"}, {"type", "fall"}}));
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_EQ(r.signature, "") << "no secret, no signature";
  }
  // Back-off doubles: 20 ms, then 40 ms.
  EXPECT_GE(got[1].at - got[0].at, std::chrono::milliseconds(20));
  EXPECT_GE(got[2].at - got[1].at, std::chrono::milliseconds(40));
  const WebhookCounters c = (*sink)->counters();
  EXPECT_EQ(c.retried, 2u);
  EXPECT_EQ(c.failed, 0u);
  EXPECT_EQ(c.dropped, 0u);
}

TEST(WebhookSinkTest, ClientErrorIsNotRetriedAndTheNextMessageStillGoes) {
  HookServer server({{400, ""}});
  auto sink = WebhookSink::Create(Fast(server.Url("/hook?token=abc")));
  ASSERT_TRUE(sink.ok()) << sink.status();
  (*sink)->Send({{"n", 1}});
  (*sink)->Send({{"n", 2}});
  ASSERT_TRUE(WaitFor([&] { return (*sink)->counters().delivered == 1; }));
  const WebhookCounters c = (*sink)->counters();
  EXPECT_EQ(c.failed, 1u);
  EXPECT_EQ(c.retried, 0u);
  const std::vector<HookServer::Received> got = server.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(got[1].body)["n"], 2);
  EXPECT_EQ(got[0].query, "token=abc");
}

TEST(WebhookSinkTest, SignatureIsTheHmacOfTheBody) {
  HookServer server;
  WebhookOptions options = Fast(server.Url());
  options.secret = "s3cret";
  auto sink = WebhookSink::Create(options);
  ASSERT_TRUE(sink.ok());
  (*sink)->Send({{"id", "x"}, {"text", "AB123CD"}});
  ASSERT_TRUE(WaitFor([&] { return (*sink)->counters().delivered == 1; }));
  const HookServer::Received got = server.received().at(0);
  // Verified independently of WebhookSink::Signature.
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), "s3cret", 6, reinterpret_cast<const unsigned char*>(got.body.data()),
       got.body.size(), digest, &length);
  ASSERT_EQ(length, 32u);
  EXPECT_EQ(got.signature, "sha256=" + absl::BytesToHexString(absl::string_view(
                                           reinterpret_cast<const char*>(digest), length)));
  EXPECT_NE(got.signature, WebhookSink::Signature("other", got.body));
  // Known answer (RFC 4231 test case 2).
  EXPECT_EQ(WebhookSink::Signature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(WebhookSinkTest, RetryAfterIsHonoured) {
  HookServer server({{429, "1"}});
  auto sink = WebhookSink::Create(Fast(server.Url()));
  ASSERT_TRUE(sink.ok());
  (*sink)->Send({{"n", 1}});
  ASSERT_TRUE(WaitFor([&] { return (*sink)->counters().delivered == 1; }));
  const std::vector<HookServer::Received> got = server.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_GE(got[1].at - got[0].at, std::chrono::milliseconds(950));
  EXPECT_EQ((*sink)->counters().retried, 1u);
}

TEST(WebhookSinkTest, TransportErrorsAreRetriedUpToMaxAttempts) {
  // A port nothing listens on.
  std::string url;
  {
    HookServer gone;
    url = gone.Url();
  }
  WebhookOptions options = Fast(url);
  options.max_attempts = 3;
  auto sink = WebhookSink::Create(options);
  ASSERT_TRUE(sink.ok());
  (*sink)->Send({{"n", 1}});
  ASSERT_TRUE(WaitFor([&] { return (*sink)->counters().failed == 1; }));
  EXPECT_EQ((*sink)->counters().retried, 2u);
  EXPECT_EQ((*sink)->counters().delivered, 0u);
}

TEST(WebhookSinkTest, FullQueueDropsTheOldestWaiting) {
  HookServer server;
  server.Hold();
  WebhookOptions options = Fast(server.Url());
  options.max_queue = 3;
  auto sink = WebhookSink::Create(options);
  ASSERT_TRUE(sink.ok());
  (*sink)->Send({{"n", 0}});
  ASSERT_TRUE(WaitFor([&] { return server.received().size() == 1; }));  // in flight, held
  const auto start = std::chrono::steady_clock::now();
  for (int i = 1; i <= 10; ++i) (*sink)->Send({{"n", i}});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  EXPECT_EQ((*sink)->counters().dropped, 7u);
  EXPECT_EQ((*sink)->counters().queued, 3u);
  server.Release();
  ASSERT_TRUE(WaitFor([&] { return (*sink)->counters().delivered == 4; }));
  std::vector<int> order;
  for (const auto& r : server.received()) order.push_back(nlohmann::json::parse(r.body)["n"]);
  EXPECT_EQ(order, (std::vector<int>{0, 8, 9, 10}));
}

TEST(WebhookSinkTest, RejectsUrlsItCannotServe) {
  const std::pair<std::string, std::string> cases[] = {
      {"https://example.com/hook", "https"},
      {"ftp://example.com/", "http://"},
      {"http://", "no host"},
      {"http://user:pw@host/x", "user information"},
      {"http://host:99999/x", "url"},
      {"http://host/a b", "space"},
      {"http://host/a\r\nX-Evil: 1", "control"},
  };
  for (const auto& [url, needle] : cases) {
    absl::StatusOr<std::unique_ptr<WebhookSink>> sink = WebhookSink::Create({.url = url});
    ASSERT_FALSE(sink.ok()) << url;
    EXPECT_EQ(sink.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(sink.status().message().find(needle), std::string::npos) << sink.status();
  }
  EXPECT_TRUE(WebhookSink::Create({.url = "http://127.0.0.1:1"}).ok());
}

}  // namespace
}  // namespace heteroaccel::events

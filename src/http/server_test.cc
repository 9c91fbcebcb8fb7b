#include "http/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "http/client.h"
#include "http/internal/test_socket.h"
#include "testing/threads.h"

namespace heteroaccel::http {
namespace {

using testing::RawConnection;
using testing::RawResponse;
using testing::WaitUntil;

// Responders parked by the "/hold" routes until the test completes them.
class Held {
 public:
  void Add(std::string tag, Responder responder) {
    std::lock_guard<std::mutex> lock(mu_);
    entries_.emplace_back(std::move(tag), std::move(responder));
    ++total_;
    cv_.notify_all();
  }
  bool WaitForTotal(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return total_ >= n; });
  }
  size_t total() {
    std::lock_guard<std::mutex> lock(mu_);
    return total_;
  }
  std::deque<std::pair<std::string, Responder>> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(entries_, {});
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, Responder>> entries_;
  size_t total_ = 0;
};

Response Text(std::string body, int status = 200) {
  Response response;
  response.status = status;
  response.content_type = "text/plain";
  response.body = std::move(body);
  return response;
}

class ServerTest : public ::testing::Test {
 protected:
  Router MakeRouter() {
    Router router;
    router.Add("GET", "/v2/health/live",
               [](Request&&, const PathParams&, Responder respond) { respond(Text("live")); });
    router.Add("POST", "/echo", [](Request&& request, const PathParams&, Responder respond) {
      Response response = Text(std::move(request.body));
      response.content_type = std::string(request.Header("content-type"));
      response.headers.emplace_back("X-Echo", std::string(request.Header("x-test")));
      response.headers.emplace_back("X-Query", request.query);
      response.headers.emplace_back("X-Path", request.path);
      respond(std::move(response));
    });
    router.Add("GET", "/params/{a}/{b}",
               [](Request&&, const PathParams& params, Responder respond) {
                 respond(Text(absl::StrCat(params[0].second, ",", params[1].second)));
               });
    router.Add("POST", "/hold", [this](Request&& request, const PathParams&, Responder respond) {
      held_.Add(std::move(request.body), std::move(respond));
    });
    router.Add("GET", "/hold/{tag}", [this](Request&&, const PathParams& params, Responder r) {
      held_.Add(params[0].second, std::move(r));
    });
    router.Add("GET", "/throw",
               [](Request&&, const PathParams&, Responder) { throw std::runtime_error("boom"); });
    return router;
  }

  Server& StartServer(ServerOptions options = {}) {
    absl::StatusOr<std::unique_ptr<Server>> server =
        Server::Create(std::move(options), MakeRouter());
    EXPECT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    server_->Start();
    return *server_;
  }

  std::unique_ptr<Client> MakeClient(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    absl::StatusOr<std::unique_ptr<Client>> client =
        Client::Create(absl::StrCat("http://", server_->address()), timeout);
    EXPECT_TRUE(client.ok()) << client.status();
    return std::move(*client);
  }

  // Completes every held request from another thread, last-received first.
  void CompleteHeldInReverseFromAnotherThread() {
    std::thread([entries = held_.Take()]() mutable {
      for (auto it = entries.rbegin(); it != entries.rend(); ++it) it->second(Text(it->first));
    }).join();
  }

  Held held_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, GetAndPostRoundTrip) {
  Server& server = StartServer();
  EXPECT_NE(server.port(), 0);
  EXPECT_EQ(server.address(), absl::StrCat("127.0.0.1:", server.port()));
  std::unique_ptr<Client> client = MakeClient();

  absl::StatusOr<ClientResponse> live = client->Get("/v2/health/live");
  ASSERT_TRUE(live.ok()) << live.status();
  EXPECT_EQ(live->status, 200);
  EXPECT_EQ(live->body, "live");
  EXPECT_EQ(live->Header("server"), "heteroaccel");
  EXPECT_TRUE(absl::EndsWith(std::string(live->Header("date")), " GMT")) << live->Header("date");

  absl::StatusOr<ClientResponse> echo =
      client->Post("/echo?x=1&y=%20", "application/json", R"({"a":1})", {{"X-Test", "hello"}});
  ASSERT_TRUE(echo.ok()) << echo.status();
  EXPECT_EQ(echo->body, R"({"a":1})");
  EXPECT_EQ(echo->Header("content-type"), "application/json");
  EXPECT_EQ(echo->Header("x-echo"), "hello");
  EXPECT_EQ(echo->Header("x-query"), "x=1&y=%20");

  absl::StatusOr<ClientResponse> params = client->Get("/params/res%20net/7");
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_EQ(params->body, "res net,7");
}

TEST_F(ServerTest, IoThreadsAreNamed) {
  StartServer();
  const std::vector<std::string> names = heteroaccel::testing::ThreadNames();
  EXPECT_NE(std::find(names.begin(), names.end(), "http-io:0"), names.end());
}

TEST_F(ServerTest, KeepAliveReusesOneConnection) {
  Server& server = StartServer();
  std::unique_ptr<Client> client = MakeClient();
  for (int i = 0; i < 200; ++i) {
    absl::StatusOr<ClientResponse> response =
        client->Post("/echo", "text/plain", std::to_string(i));
    ASSERT_TRUE(response.ok()) << response.status();
    ASSERT_EQ(response->body, std::to_string(i));
  }
  EXPECT_EQ(client->connections_opened(), 1u);
  EXPECT_EQ(server.accepted_connections(), 1u);
  EXPECT_EQ(server.open_connections(), 1u);
}

TEST_F(ServerTest, NotFoundAndMethodNotAllowedUseErrorBodies) {
  StartServer();
  std::unique_ptr<Client> client = MakeClient();
  absl::StatusOr<ClientResponse> missing = client->Get("/nope");
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->body, R"({"error":"no route for GET /nope"})");
  EXPECT_EQ(missing->Header("content-type"), "application/json");

  absl::StatusOr<ClientResponse> wrong = client->Post("/v2/health/live", "text/plain", "");
  ASSERT_TRUE(wrong.ok()) << wrong.status();
  EXPECT_EQ(wrong->status, 405);
  EXPECT_EQ(wrong->Header("allow"), "GET");
  EXPECT_EQ(client->connections_opened(), 1u);  // errors that are not fatal keep the connection
}

TEST_F(ServerTest, CustomErrorResponderShapesServerErrors) {
  ServerOptions options;
  options.error_responder = [](int status, std::string message) {
    Response response = Text(absl::StrCat("E", status, ":", message));
    response.status = 599;  // the server keeps the status it decided on
    return response;
  };
  StartServer(std::move(options));
  absl::StatusOr<ClientResponse> missing = MakeClient()->Get("/nope");
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->body, "E404:no route for GET /nope");
}

TEST_F(ServerTest, HandlerExceptionBecomes500) {
  StartServer();
  absl::StatusOr<ClientResponse> response = MakeClient()->Get("/throw");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 500);
  EXPECT_EQ(response->body, R"({"error":"handler failed: boom"})");
}

TEST_F(ServerTest, BodyOverLimitGets413AndTheConnectionCloses) {
  ServerOptions options;
  options.max_body_bytes = 1024;
  Server& server = StartServer(std::move(options));
  std::unique_ptr<Client> client = MakeClient();

  absl::StatusOr<ClientResponse> ok = client->Post("/echo", "text/plain", std::string(1024, 'a'));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->status, 200);

  for (size_t size : {size_t{1025}, size_t{8} << 20}) {
    absl::StatusOr<ClientResponse> big =
        client->Post("/echo", "text/plain", std::string(size, 'b'));
    ASSERT_TRUE(big.ok()) << big.status();
    EXPECT_EQ(big->status, 413);
    EXPECT_EQ(big->body, R"({"error":"request body exceeds the limit of 1024 bytes"})");
    EXPECT_EQ(big->Header("connection"), "close");
  }
  absl::StatusOr<ClientResponse> after = client->Get("/v2/health/live");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(client->connections_opened(), 3u);
  EXPECT_TRUE(WaitUntil([&] { return server.open_connections() == 1; }));
}

TEST_F(ServerTest, DeclaredLengthOverLimitIsRejectedBeforeTheBody) {
  Server& server = StartServer();
  RawConnection raw(server.port());
  ASSERT_TRUE(raw.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n"));
  std::optional<RawResponse> response = raw.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 413);
  raw.Close();  // the server is draining in its lingering close; end it
}

TEST_F(ServerTest, ChunkedBodiesAreBoundedToo) {
  ServerOptions options;
  options.max_body_bytes = 1024;
  Server& server = StartServer(std::move(options));
  const std::string chunk = absl::StrCat("258\r\n", std::string(600, 'c'), "\r\n");
  {
    RawConnection raw(server.port());
    ASSERT_TRUE(raw.Send(absl::StrCat("POST /echo HTTP/1.1\r\nHost: x\r\n",
                                      "Transfer-Encoding: chunked\r\n\r\n", chunk, "0\r\n\r\n")));
    std::optional<RawResponse> response = raw.ReadResponse();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, std::string(600, 'c'));
  }
  RawConnection raw(server.port());
  ASSERT_TRUE(raw.Send(absl::StrCat("POST /echo HTTP/1.1\r\nHost: x\r\n",
                                    "Transfer-Encoding: chunked\r\n\r\n", chunk, chunk)));
  std::optional<RawResponse> response = raw.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 413);
  EXPECT_NE(response->head.find("connection: close"), std::string::npos);
}

TEST_F(ServerTest, MalformedRequestsGet400AndClose) {
  Server& server = StartServer();
  for (std::string_view bad :
       {std::string_view("GARBAGE\r\n\r\n"),
        std::string_view("GET / HTTP/1.1\r\nNoColonHere\r\n\r\n"),
        std::string_view("GET /a%zz HTTP/1.1\r\nConnection: close\r\n\r\n"),
        std::string_view("POST /echo HTTP/1.1\r\nContent-Length: x\r\n\r\n")}) {
    RawConnection raw(server.port());
    ASSERT_TRUE(raw.Send(bad));
    std::optional<RawResponse> response = raw.ReadResponse();
    ASSERT_TRUE(response.has_value()) << bad;
    EXPECT_EQ(response->status, 400) << bad;
    EXPECT_TRUE(absl::StartsWith(response->body, R"({"error":"malformed)")) << response->body;
    EXPECT_TRUE(raw.ReadsEof()) << bad;
  }
}

TEST_F(ServerTest, HeaderOverLimitGets431) {
  ServerOptions options;
  options.max_header_bytes = 4096;
  Server& server = StartServer(std::move(options));
  RawConnection raw(server.port());
  ASSERT_TRUE(raw.Send(
      absl::StrCat("GET /v2/health/live HTTP/1.1\r\nX-Big: ", std::string(8192, 'h'), "\r\n\r\n")));
  std::optional<RawResponse> response = raw.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 431);
  EXPECT_TRUE(raw.ReadsEof());
}

TEST_F(ServerTest, PipelinedResponsesLeaveInRequestOrder) {
  Server& server = StartServer();
  RawConnection raw(server.port());
  std::string requests;
  for (int i = 0; i < 8; ++i) absl::StrAppend(&requests, "GET /hold/", i, " HTTP/1.1\r\n\r\n");
  absl::StrAppend(&requests, "GET /v2/health/live HTTP/1.1\r\n\r\n");  // answered at once
  ASSERT_TRUE(raw.Send(requests));
  ASSERT_TRUE(held_.WaitForTotal(8));
  CompleteHeldInReverseFromAnotherThread();
  for (int i = 0; i < 8; ++i) {
    std::optional<RawResponse> response = raw.ReadResponse();
    ASSERT_TRUE(response.has_value()) << i;
    EXPECT_EQ(response->body, std::to_string(i));
  }
  std::optional<RawResponse> last = raw.ReadResponse();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->body, "live");
}

TEST_F(ServerTest, PipelineDepthIsBounded) {
  Server& server = StartServer();
  RawConnection raw(server.port());
  std::string requests;
  for (int i = 0; i < 20; ++i) absl::StrAppend(&requests, "GET /hold/", i, " HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(raw.Send(requests));
  ASSERT_TRUE(held_.WaitForTotal(Server::kMaxPipelinedRequests));
  // A round trip on another connection through the same io thread: had the
  // bound not held, the rest would have been dispatched by now.
  ASSERT_TRUE(MakeClient()->Get("/v2/health/live").ok());
  EXPECT_EQ(held_.total(), Server::kMaxPipelinedRequests);

  CompleteHeldInReverseFromAnotherThread();
  ASSERT_TRUE(held_.WaitForTotal(20));
  CompleteHeldInReverseFromAnotherThread();
  for (int i = 0; i < 20; ++i) {
    std::optional<RawResponse> response = raw.ReadResponse();
    ASSERT_TRUE(response.has_value()) << i;
    EXPECT_EQ(response->body, std::to_string(i));
  }
}

TEST_F(ServerTest, ResponderAfterClientDisconnectIsHarmless) {
  ServerOptions options;
  options.idle_timeout = std::chrono::seconds(1);
  Server& server = StartServer(std::move(options));
  {
    RawConnection raw(server.port());
    ASSERT_TRUE(raw.Send("POST /hold HTTP/1.1\r\nContent-Length: 1\r\n\r\nx"));
    ASSERT_TRUE(held_.WaitForTotal(1));
  }
  // The handler never answered: the idle timeout closes the connection.
  ASSERT_TRUE(WaitUntil([&] { return server.open_connections() == 0; }));
  auto entries = held_.Take();
  Responder late = entries.front().second;
  std::thread([&] { late(Text("too late")); }).join();
  late(Text("twice"));  // a second call is ignored too

  absl::StatusOr<ClientResponse> response = MakeClient()->Get("/v2/health/live");
  ASSERT_TRUE(response.ok()) << response.status();

  server_.reset();  // the Responder may even outlive the server
  std::thread([&] { late(Text("after the server")); }).join();
}

TEST_F(ServerTest, IdleTimeoutClosesConnectionWhoseHandlerNeverResponds) {
  ServerOptions options;
  options.idle_timeout = std::chrono::seconds(1);
  Server& server = StartServer(std::move(options));
  std::unique_ptr<Client> client = MakeClient();
  absl::StatusOr<ClientResponse> response = client->Post("/hold", "text/plain", "never");
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable) << response.status();
  EXPECT_TRUE(WaitUntil([&] { return server.open_connections() == 0; }));
}

TEST_F(ServerTest, ClientReconnectsAfterServerClosedIdleConnection) {
  ServerOptions options;
  options.idle_timeout = std::chrono::seconds(1);
  Server& server = StartServer(std::move(options));
  std::unique_ptr<Client> client = MakeClient();
  ASSERT_TRUE(client->Get("/v2/health/live").ok());
  ASSERT_TRUE(WaitUntil([&] { return server.open_connections() == 0; }));
  absl::StatusOr<ClientResponse> response = client->Post("/echo", "text/plain", "again");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, "again");
  EXPECT_EQ(client->connections_opened(), 2u);
}

TEST_F(ServerTest, StopWithOpenConnectionsReturnsPromptly) {
  Server& server = StartServer();
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 4; ++i) {
    idle.push_back(MakeClient());
    ASSERT_TRUE(idle.back()->Get("/v2/health/live").ok());
  }
  absl::Status pending_status;
  std::thread pending(
      [&] { pending_status = MakeClient()->Post("/hold", "text/plain", "stuck").status(); });
  ASSERT_TRUE(held_.WaitForTotal(1));
  ASSERT_TRUE(WaitUntil([&] { return server.open_connections() == 5; }));

  const auto start = std::chrono::steady_clock::now();
  server.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  pending.join();
  EXPECT_EQ(pending_status.code(), absl::StatusCode::kUnavailable) << pending_status;
  EXPECT_EQ(server.open_connections(), 0u);
  server.Stop();  // idempotent
  held_.Take().front().second(Text("after stop"));
}

TEST_F(ServerTest, ConcurrentClientsFromEightThreads) {
  ServerOptions options;
  options.io_threads = 2;
  Server& server = StartServer(std::move(options));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::unique_ptr<Client> client = MakeClient();
      for (int i = 0; i < 250; ++i) {
        const std::string body = absl::StrCat(t, ":", i);
        absl::StatusOr<ClientResponse> response = client->Post("/echo", "text/plain", body);
        if (!response.ok() || response->body != body) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(server.accepted_connections(), 8u);
}

TEST_F(ServerTest, ConnectionCloseAndHttp10FollowKeepAliveRules) {
  Server& server = StartServer();
  std::unique_ptr<Client> client = MakeClient();
  absl::StatusOr<ClientResponse> response =
      client->Post("/echo", "text/plain", "bye", {{"Connection", "close"}});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->Header("connection"), "close");
  ASSERT_TRUE(client->Get("/v2/health/live").ok());
  EXPECT_EQ(client->connections_opened(), 2u);

  RawConnection http10(server.port());
  ASSERT_TRUE(http10.Send("GET /v2/health/live HTTP/1.0\r\n\r\n"));
  std::optional<RawResponse> closed = http10.ReadResponse();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->body, "live");
  EXPECT_TRUE(http10.ReadsEof());

  RawConnection kept(server.port());
  ASSERT_TRUE(kept.Send("GET /v2/health/live HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  std::optional<RawResponse> first = kept.ReadResponse();
  ASSERT_TRUE(first.has_value());
  EXPECT_NE(first->head.find("connection: keep-alive"), std::string::npos);
  ASSERT_TRUE(kept.Send("GET /v2/health/live HTTP/1.0\r\n\r\n"));
  ASSERT_TRUE(kept.ReadResponse().has_value());
}

TEST_F(ServerTest, ExpectContinueIsAnswered) {
  Server& server = StartServer();
  RawConnection raw(server.port());
  ASSERT_TRUE(raw.Send("POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"));
  std::optional<RawResponse> interim = raw.ReadResponse();
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(raw.Send("body"));
  std::optional<RawResponse> response = raw.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "body");
}

TEST_F(ServerTest, HalfClosedPeerStillGetsItsResponses) {
  Server& server = StartServer();
  RawConnection raw(server.port());
  ASSERT_TRUE(raw.Send("GET /hold/a HTTP/1.1\r\n\r\nGET /v2/health/live HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(held_.WaitForTotal(1));
  raw.ShutdownSend();
  CompleteHeldInReverseFromAnotherThread();
  std::optional<RawResponse> first = raw.ReadResponse();
  std::optional<RawResponse> second = raw.ReadResponse();
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_EQ(first->body, "a");
  EXPECT_EQ(second->body, "live");
  EXPECT_TRUE(raw.ReadsEof());
}

TEST_F(ServerTest, ResponseLargerThanTheSocketTakesIsWrittenWholeFromAnotherThread) {
  StartServer();
  std::unique_ptr<Client> client = MakeClient();
  std::string big(24u << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 23);
  // Answered off the loop with far more than a socket buffer holds: the
  // answering thread writes what the socket takes and the loop the rest.
  std::thread answer([&] {
    ASSERT_TRUE(held_.WaitForTotal(1));
    held_.Take().front().second(Text(big));
  });
  absl::StatusOr<ClientResponse> response = client->Post("/hold", "text/plain", "x");
  answer.join();
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_TRUE(response->body == big) << "got " << response->body.size() << " bytes";
  // The connection is still in step for the next request.
  absl::StatusOr<ClientResponse> next = client->Get("/v2/health/live");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->body, "live");
  EXPECT_EQ(client->connections_opened(), 1u);
}

TEST_F(ServerTest, ConnectionCloseAnsweredFromAnotherThreadCloses) {
  Server& server = StartServer();
  {
    RawConnection raw(server.port());
    ASSERT_TRUE(raw.Send("GET /hold/bye HTTP/1.1\r\nConnection: close\r\n\r\n"));
    ASSERT_TRUE(held_.WaitForTotal(1));
    CompleteHeldInReverseFromAnotherThread();
    std::optional<RawResponse> response = raw.ReadResponse();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->body, "bye");
    EXPECT_NE(response->head.find("connection: close"), std::string::npos);
    EXPECT_TRUE(raw.ReadsEof());
  }
  EXPECT_TRUE(WaitUntil([&] { return server.open_connections() == 0; }));
}

TEST_F(ServerTest, CreateReportsAddressInUse) {
  Server& server = StartServer();
  ServerOptions options;
  options.port = server.port();
  absl::StatusOr<std::unique_ptr<Server>> second = Server::Create(options, Router());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find(server.address()), std::string_view::npos)
      << second.status();

  options.port = 0;
  options.host = "no-such-host.invalid";
  EXPECT_EQ(Server::Create(options, Router()).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace heteroaccel::http

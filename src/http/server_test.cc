#include "http/server.h"

// GCC 12 in C++20 needs <utility> ahead of the Boost headers.
// clang-format off
#include <utility>
// clang-format on

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include "absl/strings/escaping.h"
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

// The writers of the streams the "/stream" routes started, in start order,
// and how many of them have run their OnClose callback.
class Streams {
 public:
  void Add(std::shared_ptr<StreamWriter> writer) {
    writer->OnClose([this] {
      std::lock_guard<std::mutex> lock(mu_);
      ++closed_;
      close_threads_.push_back(std::this_thread::get_id());
      cv_.notify_all();
    });
    std::lock_guard<std::mutex> lock(mu_);
    writers_.push_back(std::move(writer));
    cv_.notify_all();
  }
  bool WaitForTotal(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return writers_.size() >= n; });
  }
  bool WaitForClosed(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return closed_ >= n; });
  }
  std::shared_ptr<StreamWriter> Get(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return i < writers_.size() ? writers_[i] : nullptr;
  }
  size_t total() {
    std::lock_guard<std::mutex> lock(mu_);
    return writers_.size();
  }
  size_t closed() {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }
  std::vector<std::thread::id> close_threads() {
    std::lock_guard<std::mutex> lock(mu_);
    return close_threads_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<StreamWriter>> writers_;
  size_t closed_ = 0;
  std::vector<std::thread::id> close_threads_;
};

// What every stream sends first, from its callback on the io thread.
constexpr std::string_view kFirstEvent = ": hello\n\n";

// An SSE response whose stream is handed to `streams` after its first event.
Response StreamResponse(Streams& streams, size_t max_unsent = size_t{1} << 20) {
  Response response;
  response.content_type = "text/event-stream";
  response.headers = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
  response.stream_max_unsent = max_unsent;
  response.stream = [&streams](std::shared_ptr<StreamWriter> writer) {
    writer->Write(kFirstEvent);
    streams.Add(std::move(writer));
  };
  return response;
}

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
    router.Add("GET", "/throw-int", [](Request&&, const PathParams&, Responder) { throw 42; });
    // "/stream?max_unsent=N": answered at once with a stream.
    Handler stream = [this](Request&& request, const PathParams&, Responder respond) {
      size_t max_unsent = size_t{1} << 20;
      if (absl::StartsWith(request.query, "max_unsent=")) {
        max_unsent = std::strtoul(request.query.c_str() + 11, nullptr, 10);
      }
      respond(StreamResponse(streams_, max_unsent));
    };
    router.Add("GET", "/stream", stream);
    router.Add("POST", "/stream", stream);
    router.Add("GET", "/stream-throws", [](Request&&, const PathParams&, Responder respond) {
      Response response;
      response.stream = [](std::shared_ptr<StreamWriter>) { throw std::runtime_error("no"); };
      respond(std::move(response));
    });
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

  // Opens a connection and starts a stream on it (the head and the first
  // event read); returns the connection, the stream's writer is Get(index).
  std::unique_ptr<RawConnection> OpenStream(
      size_t index, std::string_view request = "GET /stream HTTP/1.1\r\n\r\n") {
    auto raw = std::make_unique<RawConnection>(server_->port());
    EXPECT_TRUE(raw->Send(request));
    std::optional<RawResponse> head = raw->ReadHead();
    EXPECT_TRUE(head.has_value());
    EXPECT_TRUE(streams_.WaitForTotal(index + 1));
    EXPECT_EQ(raw->ReadChunk(), kFirstEvent);
    return raw;
  }

  Held held_;
  Streams streams_;  // outlives the server: its OnClose callbacks run as the server stops
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
  options.keepalive_timeout = std::chrono::milliseconds(500);
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

// What a client that sends its request slowly saw.
struct Trickled {
  std::string received;  // the server's answer, "" when it only closed
  bool closed = false;   // the server closed the connection
  std::chrono::milliseconds elapsed{0};
};

// Sends `head` at once, then `slow` one byte per `interval` (then nothing),
// until the server answers and closes or `give_up` passes.
Trickled Trickle(uint16_t port, std::string_view head, std::string_view slow,
                 std::chrono::milliseconds interval,
                 std::chrono::milliseconds give_up = std::chrono::seconds(10)) {
  Trickled result;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const auto start = std::chrono::steady_clock::now();
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      (!head.empty() && ::send(fd, head.data(), head.size(), MSG_NOSIGNAL) < 0)) {
    ::close(fd);
    return result;
  }
  while (!result.closed && std::chrono::steady_clock::now() - start < give_up) {
    pollfd readable{fd, POLLIN, 0};
    if (::poll(&readable, 1, static_cast<int>(interval.count())) > 0) {
      char chunk[4096];
      const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) result.closed = true;
      if (n > 0) result.received.append(chunk, static_cast<size_t>(n));
    } else if (!slow.empty()) {
      (void)!::send(fd, slow.data(), 1, MSG_NOSIGNAL);
      slow.remove_prefix(1);
    }
  }
  result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  ::close(fd);
  return result;
}

bool IsJsonError(const std::string& body) {
  return absl::StartsWith(body, R"({"error":")") && absl::EndsWith(body, R"("})");
}

TEST_F(ServerTest, HandlerThrowingAnythingGets500) {
  StartServer();
  absl::StatusOr<ClientResponse> response = MakeClient()->Get("/throw-int");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 500);
  EXPECT_EQ(response->body, R"({"error":"handler failed"})");
}

TEST_F(ServerTest, ThrowingErrorResponderFallsBackToTheDefaultBody) {
  ServerOptions options;
  options.error_responder = [](int, std::string) -> Response {
    throw std::runtime_error("responder broke");
  };
  StartServer(std::move(options));
  std::unique_ptr<Client> client = MakeClient();
  absl::StatusOr<ClientResponse> missing = client->Get("/nope\xff");
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->body, "{\"error\":\"no route for GET /nope\\ufffd\"}");
  absl::StatusOr<ClientResponse> thrown = client->Get("/throw");
  ASSERT_TRUE(thrown.ok()) << thrown.status();
  EXPECT_EQ(thrown->status, 500);
  EXPECT_EQ(thrown->body, R"({"error":"handler failed: boom"})");
}

TEST_F(ServerTest, HostileRequestsEndIn4xxWithJsonBodies) {
  Server& server = StartServer();
  const std::string hostile[] = {
      "GET /a%zz HTTP/1.1\r\n\r\n",
      "GET /a% HTTP/1.1\r\n\r\n",
      "POST /echo HTTP/1.1\r\nContent-Length: 99999999999999999999999999\r\n\r\n",
      "POST /echo HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
      "POST /echo HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
      "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffffffff\r\n",
      "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n",
      "GET / HTTP/1.1\r\nBad\x01Name: 1\r\n\r\n",
      std::string("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 27),
      "GET /\xff\xfe\x80 HTTP/1.1\r\n\r\n",
      "GET / HTTP/9.9\r\n\r\n",
      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  // a TLS ClientHello
  };
  for (const std::string& bad : hostile) {
    RawConnection raw(server.port());
    ASSERT_TRUE(raw.Send(bad));
    std::optional<RawResponse> response = raw.ReadResponse();
    ASSERT_TRUE(response.has_value()) << absl::CEscape(bad);
    EXPECT_GE(response->status, 400) << absl::CEscape(bad);
    EXPECT_LT(response->status, 500) << absl::CEscape(bad);
    EXPECT_TRUE(IsJsonError(response->body)) << response->body;
  }
  // The server is still fine.
  EXPECT_EQ(MakeClient()->Get("/v2/health/live")->status, 200);
}

// A body framed by anything but a single "chunked" cannot be delimited: were it
// read as empty, its bytes would be taken for the next request (smuggling).
TEST_F(ServerTest, TransferEncodingOtherThanChunkedIsRefusedAndCloses) {
  Server& server = StartServer();
  for (const char* te : {"gzip", "gzip, chunked", "chunked, chunked", "identity"}) {
    RawConnection raw(server.port());
    ASSERT_TRUE(raw.Send(absl::StrCat("POST /echo HTTP/1.1\r\nTransfer-Encoding: ", te,
                                      "\r\n\r\nGET /v2/health/live HTTP/1.1\r\n\r\n")));
    std::optional<RawResponse> response = raw.ReadResponse();
    ASSERT_TRUE(response.has_value()) << te;
    EXPECT_EQ(response->status, 400) << te;
    EXPECT_TRUE(IsJsonError(response->body)) << response->body;
    // The smuggled request is never answered: the connection ends.
    EXPECT_TRUE(raw.ReadsEof()) << te;
  }
}

TEST_F(ServerTest, HeaderTrickledByteByByteGets408AfterHeaderTimeout) {
  ServerOptions options;
  options.header_timeout = std::chrono::milliseconds(300);
  Server& server = StartServer(std::move(options));
  // 200 bytes at one per 20 ms would take 4 s; every byte is a completed read.
  const Trickled slow = Trickle(server.port(), "GET /v2/health/live HTTP/1.1\r\n",
                                absl::StrCat("X-Slow: ", std::string(200, 'a'), "\r\n\r\n"),
                                std::chrono::milliseconds(20));
  EXPECT_TRUE(slow.closed);
  EXPECT_TRUE(absl::StartsWith(slow.received, "HTTP/1.1 408 ")) << slow.received;
  EXPECT_NE(slow.received.find(R"({"error":"request header not complete within 300 ms"})"),
            std::string::npos)
      << slow.received;
  EXPECT_GE(slow.elapsed, std::chrono::milliseconds(300));
  EXPECT_LT(slow.elapsed, std::chrono::milliseconds(2500));
  EXPECT_EQ(server.header_timeouts(), 1u);
  EXPECT_TRUE(WaitUntil([&] { return server.open_connections() == 0; }));
}

TEST_F(ServerTest, ConnectionThatSendsNothingIsClosedAfterHeaderTimeout) {
  ServerOptions options;
  options.header_timeout = std::chrono::milliseconds(300);
  Server& server = StartServer(std::move(options));
  const Trickled silent = Trickle(server.port(), "", "", std::chrono::milliseconds(20));
  EXPECT_TRUE(silent.closed);
  EXPECT_EQ(silent.received, "");  // nothing was asked, so nothing is answered
  EXPECT_GE(silent.elapsed, std::chrono::milliseconds(300));
  EXPECT_LT(silent.elapsed, std::chrono::milliseconds(2000));
  EXPECT_EQ(server.header_timeouts(), 1u);
}

TEST_F(ServerTest, HeaderClockOfTheNextRequestStartsAtItsFirstByte) {
  ServerOptions options;
  options.header_timeout = std::chrono::milliseconds(200);
  Server& server = StartServer(std::move(options));
  RawConnection raw(server.port());
  ASSERT_TRUE(raw.Send("GET /v2/health/live HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(raw.ReadResponse().has_value());
  // Idle between requests for longer than header_timeout: keepalive_timeout
  // applies there, and the next header's clock has not started.
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  ASSERT_TRUE(raw.Send("GET /v2/health/live HTTP/1.1\r\n\r\n"));
  std::optional<RawResponse> second = raw.ReadResponse();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->status, 200);
  EXPECT_EQ(server.header_timeouts(), 0u);
}

TEST_F(ServerTest, BodyTrickledByteByByteGets408) {
  ServerOptions options;
  options.header_timeout = std::chrono::milliseconds(300);
  options.min_body_bytes_per_second = 1000;
  Server& server = StartServer(std::move(options));
  const Trickled slow =
      Trickle(server.port(), "POST /echo HTTP/1.1\r\nContent-Length: 1000\r\n\r\n",
              std::string(1000, 'b'), std::chrono::milliseconds(20));
  EXPECT_TRUE(slow.closed);
  EXPECT_TRUE(absl::StartsWith(slow.received, "HTTP/1.1 408 ")) << slow.received;
  EXPECT_NE(slow.received.find("slower than 1000 bytes per second"), std::string::npos);
  EXPECT_LT(slow.elapsed, std::chrono::milliseconds(2500));
  EXPECT_EQ(server.body_timeouts(), 1u);
  EXPECT_TRUE(WaitUntil([&] { return server.inflight_body_bytes() == 0; }));
}

TEST_F(ServerTest, BodyArrivingAtTheMinimumRateIsServed) {
  ServerOptions options;
  options.header_timeout = std::chrono::milliseconds(200);
  options.min_body_bytes_per_second = 1000;
  Server& server = StartServer(std::move(options));
  RawConnection raw(server.port());
  ASSERT_TRUE(raw.Send("POST /echo HTTP/1.1\r\nContent-Length: 1000\r\n\r\n"));
  // 100 bytes per 50 ms (2000 bytes/s): longer than header_timeout in all.
  for (int i = 0; i < 10; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE(raw.Send(std::string(100, 'c')));
  }
  std::optional<RawResponse> response = raw.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, std::string(1000, 'c'));
  EXPECT_EQ(server.body_timeouts(), 0u);
}

TEST_F(ServerTest, StalledBodyIsClosedByIdleTimeout) {
  ServerOptions options;
  options.idle_timeout = std::chrono::seconds(1);
  options.min_body_bytes_per_second = 0;  // only the idle timeout bounds it
  Server& server = StartServer(std::move(options));
  const Trickled stalled =
      Trickle(server.port(), "POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", "",
              std::chrono::milliseconds(20));
  EXPECT_TRUE(stalled.closed);
  EXPECT_GE(stalled.elapsed, std::chrono::milliseconds(900));
  EXPECT_LT(stalled.elapsed, std::chrono::milliseconds(3000));
  EXPECT_EQ(server.body_timeouts(), 0u);
}

TEST_F(ServerTest, IdleKeepAliveConnectionClosesAfterKeepaliveTimeout) {
  ServerOptions options;
  options.keepalive_timeout = std::chrono::milliseconds(300);
  Server& server = StartServer(std::move(options));
  RawConnection raw(server.port());
  ASSERT_TRUE(raw.Send("GET /v2/health/live HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(raw.ReadResponse().has_value());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(raw.ReadsEof());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(250));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2000));
  EXPECT_EQ(server.header_timeouts(), 0u);
}

TEST_F(ServerTest, KeepaliveTimeoutDoesNotCutARequestInFlight) {
  ServerOptions options;
  options.keepalive_timeout = std::chrono::milliseconds(200);
  Server& server = StartServer(std::move(options));
  RawConnection raw(server.port());
  ASSERT_TRUE(raw.Send("GET /hold/late HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(held_.WaitForTotal(1));
  // The handler works for longer than keepalive_timeout (idle_timeout governs).
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  CompleteHeldInReverseFromAnotherThread();
  std::optional<RawResponse> response = raw.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "late");
  // Then it is idle, and keepalive_timeout closes it.
  EXPECT_TRUE(raw.ReadsEof());
}

TEST_F(ServerTest, NewcomerAtTheBoundShedsKeepAliveIdleThenOldestHeaderSender) {
  ServerOptions options;
  options.max_connections = 4;
  Server& server = StartServer(std::move(options));
  EXPECT_EQ(server.max_connections(), 4u);
  auto half_line = [&] {
    auto raw = std::make_unique<RawConnection>(server.port());
    EXPECT_TRUE(raw->Send("GET /v2/hea"));
    return raw;
  };
  auto keep_alive = [&] {
    auto raw = std::make_unique<RawConnection>(server.port());
    EXPECT_TRUE(raw->Send("GET /v2/health/live HTTP/1.1\r\n\r\n"));
    EXPECT_TRUE(raw->ReadResponse().has_value());
    return raw;
  };
  auto oldest_header = half_line();
  auto newer_header = half_line();
  auto older_idle = keep_alive();
  auto newer_idle = keep_alive();
  ASSERT_TRUE(WaitUntil([&] { return server.open_connections() == 4; }));

  auto first = half_line();  // sheds the older keep-alive connection, not a header sender
  EXPECT_TRUE(older_idle->ReadsEof());
  ASSERT_TRUE(WaitUntil([&] { return server.open_connections() == 4; }));
  auto second = half_line();
  EXPECT_TRUE(newer_idle->ReadsEof());
  ASSERT_TRUE(WaitUntil([&] { return server.open_connections() == 4; }));
  // Only header senders are left: the oldest goes.
  RawConnection third(server.port());
  ASSERT_TRUE(third.Send("GET /v2/health/live HTTP/1.1\r\n\r\n"));
  std::optional<RawResponse> response = third.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_TRUE(oldest_header->ReadsEof());
  EXPECT_EQ(server.shed_connections(), 3u);
  EXPECT_EQ(server.refused_connections(), 0u);
}

TEST_F(ServerTest, ConnectionsWithRequestsInFlightAreNotShed) {
  ServerOptions options;
  options.max_connections = 2;
  Server& server = StartServer(std::move(options));
  RawConnection a(server.port());
  RawConnection b(server.port());
  ASSERT_TRUE(a.Send("GET /hold/a HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(b.Send("POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nhalf"));  // body in flight
  ASSERT_TRUE(held_.WaitForTotal(1));
  ASSERT_TRUE(WaitUntil([&] { return server.inflight_body_bytes() == 10; }));

  RawConnection newcomer(server.port());
  std::optional<RawResponse> refused = newcomer.ReadResponse();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 503);
  EXPECT_NE(refused->head.find("retry-after: 1"), std::string::npos) << refused->head;
  EXPECT_TRUE(IsJsonError(refused->body)) << refused->body;
  EXPECT_EQ(server.refused_connections(), 1u);
  EXPECT_EQ(server.shed_connections(), 0u);

  ASSERT_TRUE(b.Send("-rest!"));
  std::optional<RawResponse> echoed = b.ReadResponse();
  ASSERT_TRUE(echoed.has_value());
  EXPECT_EQ(echoed->body, "half-rest!");
  CompleteHeldInReverseFromAnotherThread();
  std::optional<RawResponse> held = a.ReadResponse();
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->body, "a");
}

// Counts this process's open descriptors.
size_t OpenDescriptors() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++n;
  }
  return n - 1;  // the directory iterator's own
}

TEST_F(ServerTest, AcceptOutOfDescriptorsShedsAnIdleConnectionAndRecovers) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  if (saved.rlim_cur != RLIM_INFINITY && saved.rlim_cur < 256) GTEST_SKIP() << "fd limit too low";
  ServerOptions options;
  options.max_connections = 100;  // far above what the lowered limit leaves
  Server& server = StartServer(std::move(options));
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(std::make_unique<RawConnection>(server.port()));
    ASSERT_TRUE(idle.back()->Send("GET /v2/hea"));
  }
  ASSERT_TRUE(WaitUntil([&] { return server.open_connections() == 3; }));
  // Room for the newcomer's client socket, none for the server's end of it.
  rlimit low = saved;
  low.rlim_cur = OpenDescriptors() + 1;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  RawConnection newcomer(server.port());
  const bool sent = newcomer.Send("GET /v2/health/live HTTP/1.1\r\n\r\n");
  std::optional<RawResponse> response = newcomer.ReadResponse();
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_TRUE(sent);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_TRUE(idle.front()->ReadsEof());  // the oldest idle one made room
  EXPECT_GE(server.shed_connections(), 1u);
}

TEST_F(ServerTest, InflightBodyBytesAreBoundedAcrossConnections) {
  ServerOptions options;
  options.max_body_bytes = 1000;
  options.max_inflight_body_bytes = 2500;
  Server& server = StartServer(std::move(options));
  const std::string post =
      absl::StrCat("POST /hold HTTP/1.1\r\nContent-Length: 1000\r\n\r\n", std::string(1000, 'x'));
  RawConnection a(server.port());
  RawConnection b(server.port());
  ASSERT_TRUE(a.Send(post));
  ASSERT_TRUE(b.Send(post));
  ASSERT_TRUE(held_.WaitForTotal(2));
  EXPECT_EQ(server.inflight_body_bytes(), 2000u);

  // Refused on its declared length, before its body is read.
  RawConnection c(server.port());
  ASSERT_TRUE(c.Send("POST /hold HTTP/1.1\r\nContent-Length: 1000\r\n\r\n"));
  std::optional<RawResponse> refused = c.ReadResponse();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 503);
  EXPECT_NE(refused->head.find("retry-after: 1"), std::string::npos) << refused->head;
  EXPECT_NE(refused->head.find("connection: close"), std::string::npos) << refused->head;
  EXPECT_EQ(refused->body,
            R"({"error":"request bodies in flight would exceed 2500 bytes; retry later"})");
  EXPECT_TRUE(c.ReadsEof());
  EXPECT_EQ(server.refused_bodies(), 1u);
  EXPECT_EQ(server.inflight_body_bytes(), 2000u);

  // Released once the responses are written.
  CompleteHeldInReverseFromAnotherThread();
  ASSERT_TRUE(a.ReadResponse().has_value());
  ASSERT_TRUE(b.ReadResponse().has_value());
  EXPECT_TRUE(WaitUntil([&] { return server.inflight_body_bytes() == 0; }));
  std::unique_ptr<Client> client = MakeClient();
  absl::StatusOr<ClientResponse> echo = client->Post("/echo", "text/plain", std::string(1000, 'y'));
  ASSERT_TRUE(echo.ok()) << echo.status();
  EXPECT_EQ(echo->status, 200);
}

TEST_F(ServerTest, InflightBodyBytesAreReleasedWhenTheConnectionCloses) {
  ServerOptions options;
  options.idle_timeout = std::chrono::seconds(1);
  Server& server = StartServer(std::move(options));
  {
    RawConnection raw(server.port());
    ASSERT_TRUE(raw.Send("POST /echo HTTP/1.1\r\nContent-Length: 5000\r\n\r\nonly this"));
    ASSERT_TRUE(WaitUntil([&] { return server.inflight_body_bytes() == 5000; }));
  }
  EXPECT_TRUE(WaitUntil([&] { return server.inflight_body_bytes() == 0; }));
  {
    RawConnection raw(server.port());
    ASSERT_TRUE(raw.Send("POST /hold HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"));
    ASSERT_TRUE(held_.WaitForTotal(1));
    EXPECT_EQ(server.inflight_body_bytes(), 3u);
  }
  // The server waits for the handler to answer the half-closed peer until
  // idle_timeout; the handler still holds its Responder, the connection let go.
  ASSERT_TRUE(WaitUntil([&] { return server.open_connections() == 0; }));
  EXPECT_EQ(server.inflight_body_bytes(), 0u);
}

TEST_F(ServerTest, ChunkedBodiesCountAsTheyGrow) {
  ServerOptions options;
  options.max_body_bytes = 1000;
  options.max_inflight_body_bytes = 1000;
  Server& server = StartServer(std::move(options));
  const std::string chunk = absl::StrCat("258\r\n", std::string(600, 'c'), "\r\n");
  const std::string head = "POST /hold HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  RawConnection a(server.port());
  ASSERT_TRUE(a.Send(absl::StrCat(head, chunk, "0\r\n\r\n")));
  ASSERT_TRUE(held_.WaitForTotal(1));
  EXPECT_EQ(server.inflight_body_bytes(), 600u);
  RawConnection b(server.port());
  ASSERT_TRUE(b.Send(absl::StrCat(head, chunk)));
  std::optional<RawResponse> refused = b.ReadResponse();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(server.refused_bodies(), 1u);
  EXPECT_EQ(server.inflight_body_bytes(), 600u);
  CompleteHeldInReverseFromAnotherThread();
  ASSERT_TRUE(a.ReadResponse().has_value());
  EXPECT_TRUE(WaitUntil([&] { return server.inflight_body_bytes() == 0; }));
}

TEST_F(ServerTest, DefaultsAndOptionChecks) {
  Server& server = StartServer();
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  EXPECT_GE(server.max_connections(), 1u);
  EXPECT_LE(server.max_connections(), 4096u);
  if (limit.rlim_cur != RLIM_INFINITY) {
    EXPECT_LT(server.max_connections(), limit.rlim_cur);
  }
  const ServerOptions defaults;
  EXPECT_EQ(defaults.header_timeout, std::chrono::seconds(10));
  EXPECT_EQ(defaults.keepalive_timeout, std::chrono::seconds(30));
  EXPECT_EQ(defaults.max_inflight_body_bytes, size_t{512} << 20);

  ServerOptions too_small;
  too_small.max_inflight_body_bytes = too_small.max_body_bytes - 1;
  absl::StatusOr<std::unique_ptr<Server>> bad = Server::Create(too_small, Router());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("max_inflight_body_bytes"), std::string_view::npos);
  ServerOptions no_timeout;
  no_timeout.header_timeout = std::chrono::milliseconds(0);
  EXPECT_EQ(Server::Create(no_timeout, Router()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Parses `wire` as one whole HTTP response with Beast's parser.
std::optional<boost::beast::http::response<boost::beast::http::string_body>> ParseWithBeast(
    const std::string& wire, bool* chunked) {
  boost::beast::http::response_parser<boost::beast::http::string_body> parser;
  parser.eager(true);
  size_t used = 0;
  while (!parser.is_done() && used < wire.size()) {
    boost::beast::error_code ec;
    const size_t n = parser.put(boost::asio::buffer(wire.data() + used, wire.size() - used), ec);
    if (ec || n == 0) return std::nullopt;
    used += n;
  }
  if (!parser.is_done() || used != wire.size()) return std::nullopt;
  *chunked = parser.chunked();
  return parser.release();
}

TEST_F(ServerTest, StreamDeliversWritesInOrderWithChunkedFraming) {
  Server& server = StartServer();
  RawConnection raw(server.port());
  ASSERT_TRUE(raw.Send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::optional<RawResponse> head = raw.ReadHead();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  for (const char* line : {"\r\ntransfer-encoding: chunked", "\r\ncontent-type: text/event-stream",
                           "\r\ncache-control: no-cache", "\r\nx-accel-buffering: no",
                           "\r\nconnection: close", "\r\nserver: heteroaccel"}) {
    EXPECT_NE(head->head.find(line), std::string::npos) << line << " in " << head->head;
  }
  EXPECT_EQ(head->head.find("content-length"), std::string::npos) << head->head;
  ASSERT_TRUE(streams_.WaitForTotal(1));
  std::shared_ptr<StreamWriter> writer = streams_.Get(0);
  // The first event, written by the callback on the io thread, byte for byte.
  EXPECT_EQ(raw.ReadBytes(14), "9\r\n: hello\n\n\r\n");
  uint64_t total = kFirstEvent.size();
  for (int i = 0; i < 5; ++i) {
    const std::string event = absl::StrCat("id: ", i, "\ndata: {\"seq\":", i, "}\n\n");
    ASSERT_TRUE(writer->Write(event));
    EXPECT_EQ(raw.ReadChunk(), event);
    total += event.size();
  }
  const std::string big(100'000, 'b');  // more than one read on either side
  ASSERT_TRUE(writer->Write(big));
  EXPECT_EQ(raw.ReadBytes(7), "186a0\r\n");
  EXPECT_EQ(raw.ReadBytes(big.size() + 2), big + "\r\n");
  total += big.size();
  EXPECT_TRUE(writer->Write(""));  // writes nothing; in particular not the last chunk
  EXPECT_TRUE(WaitUntil([&] { return writer->bytes_sent() == total; })) << writer->bytes_sent();
  EXPECT_FALSE(writer->closed());
  EXPECT_EQ(streams_.closed(), 0u);
  EXPECT_EQ(server.open_connections(), 1u);
}

TEST_F(ServerTest, StreamCloseSendsTheLastChunkAndParsesWithBeast) {
  Server& server = StartServer();
  RawConnection raw(server.port());
  ASSERT_TRUE(raw.Send("GET /stream HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(streams_.WaitForTotal(1));
  std::shared_ptr<StreamWriter> writer = streams_.Get(0);
  std::string expected(kFirstEvent);
  for (int i = 0; i < 3; ++i) {
    const std::string event = absl::StrCat("event: patch\ndata: ", i, "\n\n");
    ASSERT_TRUE(writer->Write(event));
    expected += event;
  }
  writer->Close();
  EXPECT_TRUE(writer->closed());
  EXPECT_FALSE(writer->Write("after close"));
  const std::string wire = raw.ReadToEof();  // the server closes after the last chunk
  EXPECT_TRUE(absl::EndsWith(wire, "\r\n0\r\n\r\n")) << absl::CEscape(wire);
  bool chunked = false;
  const auto response = ParseWithBeast(wire, &chunked);
  ASSERT_TRUE(response.has_value()) << absl::CEscape(wire);
  EXPECT_TRUE(chunked);
  EXPECT_EQ(response->result_int(), 200u);
  EXPECT_EQ((*response)[boost::beast::http::field::content_type], "text/event-stream");
  EXPECT_EQ(response->body(), expected);
  raw.Close();
  EXPECT_TRUE(streams_.WaitForClosed(1));
  EXPECT_TRUE(WaitUntil([&] { return server.open_connections() == 0; }));
}

TEST_F(ServerTest, StreamOverHttp10IsDelimitedByTheClose) {
  Server& server = StartServer();
  RawConnection raw(server.port());
  ASSERT_TRUE(raw.Send("GET /stream HTTP/1.0\r\n\r\n"));
  std::optional<RawResponse> head = raw.ReadHead();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->head.find("transfer-encoding"), std::string::npos) << head->head;
  EXPECT_EQ(head->head.find("content-length"), std::string::npos) << head->head;
  EXPECT_NE(head->head.find("\r\nconnection: close"), std::string::npos) << head->head;
  ASSERT_TRUE(streams_.WaitForTotal(1));
  std::shared_ptr<StreamWriter> writer = streams_.Get(0);
  ASSERT_TRUE(writer->Write("data: a\n\n"));
  ASSERT_TRUE(writer->Write("data: b\n\n"));
  writer->Close();
  EXPECT_EQ(raw.ReadToEof(), std::string(kFirstEvent) + "data: a\n\ndata: b\n\n");
  raw.Close();
  EXPECT_TRUE(streams_.WaitForClosed(1));
  EXPECT_TRUE(WaitUntil([&] { return server.open_connections() == 0; }));
}

TEST_F(ServerTest, StreamWritesFromOtherThreadsArriveInEachThreadsOrder) {
  StartServer();
  std::unique_ptr<RawConnection> raw = OpenStream(0);
  std::shared_ptr<StreamWriter> writer = streams_.Get(0);
  constexpr int kThreads = 2;
  constexpr int kEvents = 300;
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEvents; ++i) {
        if (!writer->Write(absl::StrCat("data: ", t, " ", i, "\n\n"))) refused.fetch_add(1);
      }
    });
  }
  std::vector<int> next(kThreads, 0);
  for (int n = 0; n < kThreads * kEvents; ++n) {
    std::optional<std::string> chunk = raw->ReadChunk();
    ASSERT_TRUE(chunk.has_value()) << n;
    int t = -1;
    int i = -1;
    ASSERT_EQ(std::sscanf(chunk->c_str(), "data: %d %d", &t, &i), 2) << *chunk;
    ASSERT_TRUE(t >= 0 && t < kThreads) << *chunk;
    EXPECT_EQ(i, next[t]++) << "thread " << t;
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(refused.load(), 0);
  EXPECT_FALSE(writer->closed());
}

TEST_F(ServerTest, StreamOnCloseFiresPromptlyWhenTheClientLeaves) {
  Server& server = StartServer();
  std::unique_ptr<RawConnection> raw = OpenStream(0);
  std::shared_ptr<StreamWriter> writer = streams_.Get(0);
  ASSERT_EQ(streams_.closed(), 0u);
  // Nothing is written after the client leaves: only the server's read notices.
  const auto left = std::chrono::steady_clock::now();
  raw->Close();
  ASSERT_TRUE(streams_.WaitForClosed(1));
  EXPECT_LT(std::chrono::steady_clock::now() - left, std::chrono::seconds(3));
  EXPECT_NE(streams_.close_threads().front(), std::this_thread::get_id());
  EXPECT_TRUE(writer->closed());
  EXPECT_FALSE(writer->Write("data: gone\n\n"));
  bool ran = false;
  writer->OnClose([&] { ran = true; });  // already closed: runs at once, here
  EXPECT_TRUE(ran);
  EXPECT_TRUE(WaitUntil([&] { return server.open_connections() == 0; }));
  EXPECT_EQ(streams_.closed(), 1u);  // exactly once
}

TEST_F(ServerTest, StreamSlowConsumerIsDroppedAndItsWritesFail) {
  constexpr size_t kMaxUnsent = 64u << 10;
  Server& server = StartServer();
  // The client asks and never reads: the kernel's buffers fill, then the queue.
  RawConnection raw(server.port());
  ASSERT_TRUE(raw.Send(absl::StrCat("GET /stream?max_unsent=", kMaxUnsent, " HTTP/1.1\r\n\r\n")));
  ASSERT_TRUE(streams_.WaitForTotal(1));
  std::shared_ptr<StreamWriter> writer = streams_.Get(0);
  const std::string event(16u << 10, 'e');
  // Far more than any socket buffers: were the queue unbounded, every write
  // would succeed and the server's memory grow by all of it.
  constexpr size_t kCap = size_t{256} << 20;
  size_t written = 0;
  while (written < kCap && writer->Write(event)) written += event.size();
  EXPECT_LT(written, kCap) << "the slow consumer was never dropped";
  EXPECT_TRUE(writer->closed());
  EXPECT_FALSE(writer->Write("x"));
  EXPECT_LE(writer->bytes_sent(), written);
  // The drop is noticed on the writing thread; OnClose runs on the io thread.
  ASSERT_TRUE(streams_.WaitForClosed(1));
  EXPECT_NE(streams_.close_threads().front(), std::this_thread::get_id());
  EXPECT_TRUE(WaitUntil([&] { return server.open_connections() == 0; }));
}

TEST_F(ServerTest, StopClosesStreamsAndFiresOnClose) {
  Server& server = StartServer();
  std::unique_ptr<RawConnection> a = OpenStream(0);
  std::unique_ptr<RawConnection> b = OpenStream(1);
  std::shared_ptr<StreamWriter> writer = streams_.Get(0);
  const auto start = std::chrono::steady_clock::now();
  server.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(streams_.closed(), 2u);  // before Stop returned
  EXPECT_TRUE(writer->closed());
  EXPECT_FALSE(writer->Write("data: late\n\n"));
  EXPECT_TRUE(a->ReadsEof());
  // The writer outlives the server safely.
  server_.reset();
  EXPECT_FALSE(writer->Write("data: later\n\n"));
  writer->Close();
  bool ran = false;
  writer->OnClose([&] { ran = true; });
  EXPECT_TRUE(ran);
  EXPECT_EQ(streams_.closed(), 2u);
}

TEST_F(ServerTest, StreamBehindPipelinedRequestWaitsItsTurnAndEndsTheConnection) {
  Server& server = StartServer();
  RawConnection raw(server.port());
  ASSERT_TRUE(
      raw.Send("GET /hold/first HTTP/1.1\r\n\r\nGET /hold/stream HTTP/1.1\r\n\r\n"
               "GET /v2/health/live HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(held_.WaitForTotal(2));
  auto entries = held_.Take();
  ASSERT_EQ(entries.size(), 2u);
  // The stream is answered first, from another thread; it must wait its turn.
  std::thread([&] { entries[1].second(StreamResponse(streams_)); }).join();
  // A round trip through the same io thread: had the stream not waited, its
  // callback would have run by now.
  ASSERT_TRUE(MakeClient()->Get("/v2/health/live").ok());
  EXPECT_EQ(streams_.total(), 0u);
  std::thread([&] { entries[0].second(Text("first")); }).join();

  std::optional<RawResponse> first = raw.ReadResponse();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->body, "first");
  std::optional<RawResponse> head = raw.ReadHead();
  ASSERT_TRUE(head.has_value());
  EXPECT_NE(head->head.find("transfer-encoding: chunked"), std::string::npos) << head->head;
  ASSERT_TRUE(streams_.WaitForTotal(1));
  std::shared_ptr<StreamWriter> writer = streams_.Get(0);
  EXPECT_EQ(raw.ReadChunk(), kFirstEvent);
  ASSERT_TRUE(writer->Write("data: x\n\n"));
  EXPECT_EQ(raw.ReadChunk(), "data: x\n\n");
  writer->Close();
  EXPECT_EQ(raw.ReadChunk(), "");
  // The request pipelined after the stream is never answered.
  EXPECT_TRUE(raw.ReadsEof());
}

TEST_F(ServerTest, SilentStreamOutlivesEveryTimeout) {
  ServerOptions options;
  options.idle_timeout = std::chrono::seconds(1);
  options.keepalive_timeout = std::chrono::milliseconds(200);
  options.header_timeout = std::chrono::milliseconds(200);
  Server& server = StartServer(std::move(options));
  std::unique_ptr<RawConnection> raw = OpenStream(0);
  std::shared_ptr<StreamWriter> writer = streams_.Get(0);
  // Silent for well past every timeout (this waits for time itself to pass).
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_FALSE(writer->closed());
  EXPECT_EQ(streams_.closed(), 0u);
  EXPECT_EQ(server.open_connections(), 1u);
  ASSERT_TRUE(writer->Write("event: heartbeat\n\n"));
  EXPECT_EQ(raw->ReadChunk(), "event: heartbeat\n\n");
  EXPECT_EQ(server.header_timeouts(), 0u);
}

TEST_F(ServerTest, StreamHoldsNoBodyBytesAndIsNeverShed) {
  ServerOptions options;
  options.max_connections = 1;
  Server& server = StartServer(std::move(options));
  std::unique_ptr<RawConnection> raw =
      OpenStream(0, absl::StrCat("POST /stream HTTP/1.1\r\nContent-Length: 1000\r\n\r\n",
                                 std::string(1000, 'p')));
  std::shared_ptr<StreamWriter> writer = streams_.Get(0);
  EXPECT_TRUE(WaitUntil([&] { return server.inflight_body_bytes() == 0; }));
  // The stream is a request in flight: a newcomer is refused, not the stream shed.
  RawConnection newcomer(server.port());
  std::optional<RawResponse> refused = newcomer.ReadResponse();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(server.shed_connections(), 0u);
  ASSERT_TRUE(writer->Write("data: still here\n\n"));
  EXPECT_EQ(raw->ReadChunk(), "data: still here\n\n");
}

TEST_F(ServerTest, StreamCallbackThatThrowsClosesItsConnectionOnly) {
  Server& server = StartServer();
  RawConnection raw(server.port());
  ASSERT_TRUE(raw.Send("GET /stream-throws HTTP/1.1\r\n\r\n"));
  std::optional<RawResponse> head = raw.ReadHead();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(raw.ReadToEof(), "");  // ended without the last chunk: the client sees an error
  std::unique_ptr<Client> client = MakeClient();
  EXPECT_EQ(client->Get("/v2/health/live")->status, 200);
  EXPECT_TRUE(WaitUntil([&] { return server.open_connections() == 1; }));  // the client's
}

}  // namespace
}  // namespace heteroaccel::http

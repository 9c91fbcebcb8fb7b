#include "http/client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "http/server.h"

namespace heteroaccel::http {
namespace {

// A port with nothing listening: bound by a server that is then destroyed.
uint16_t UnusedPort() {
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Create(ServerOptions{}, Router());
  EXPECT_TRUE(server.ok());
  return (*server)->port();
}

TEST(ClientTest, ConnectionRefusedIsUnavailableWithTheAddress) {
  const uint16_t port = UnusedPort();
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Create(absl::StrCat("127.0.0.1:", port));
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<ClientResponse> response = (*client)->Get("/v2/health/live");
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(response.status().message(),
            absl::StrCat("cannot connect to 127.0.0.1:", port, ": Connection refused"));
}

TEST(ClientTest, SlowResponseIsDeadlineExceeded) {
  Router router;
  std::vector<Responder> parked;
  router.Add("GET", "/slow", [&parked](Request&&, const PathParams&, Responder respond) {
    parked.push_back(std::move(respond));  // io thread only; answered never
  });
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Create(ServerOptions{}, router);
  ASSERT_TRUE(server.ok());
  (*server)->Start();
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Create((*server)->address(), std::chrono::milliseconds(200));
  ASSERT_TRUE(client.ok());
  absl::StatusOr<ClientResponse> response = (*client)->Get("/slow");
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(response.status().message().find("timed out after 200 ms"), std::string_view::npos)
      << response.status();
  (*server)->Stop();
}

TEST(ClientTest, PathPrefixFromBaseUrlIsPrepended) {
  Router router;
  router.Add("GET", "/api/v2/health/live", [](Request&& request, const PathParams&, Responder r) {
    Response response;
    response.body = request.path;
    r(std::move(response));
  });
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Create(ServerOptions{}, router);
  ASSERT_TRUE(server.ok());
  (*server)->Start();
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Create(absl::StrCat("http://", (*server)->address(), "/api/"));
  ASSERT_TRUE(client.ok());
  absl::StatusOr<ClientResponse> response = (*client)->Get("v2/health/live");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, "/api/v2/health/live");
}

// Reads from `fd` up to the end of one request head (the tests send no bodies).
bool ReadRequestHead(int fd) {
  std::string data;
  char chunk[1024];
  while (data.find("\r\n\r\n") == std::string::npos) {
    const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    data.append(chunk, static_cast<size_t>(n));
  }
  return true;
}

TEST(ClientTest, RetriesOnceWhenReusedConnectionClosesWithoutAnyResponse) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  socklen_t length = sizeof(address);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);

  // A server that answers once, then closes the connection on the next request
  // without a byte of response, then answers on a new connection.
  std::thread fake([listener] {
    const int first = ::accept(listener, nullptr, nullptr);
    if (ReadRequestHead(first)) {
      constexpr std::string_view kOne = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na";
      ::send(first, kOne.data(), kOne.size(), MSG_NOSIGNAL);
    }
    ReadRequestHead(first);
    ::close(first);
    const int second = ::accept(listener, nullptr, nullptr);
    if (ReadRequestHead(second)) {
      constexpr std::string_view kTwo = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb";
      ::send(second, kTwo.data(), kTwo.size(), MSG_NOSIGNAL);
    }
    ::close(second);
  });

  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Create(absl::StrCat("127.0.0.1:", ntohs(address.sin_port)), std::chrono::seconds(10));
  ASSERT_TRUE(client.ok());
  absl::StatusOr<ClientResponse> first = (*client)->Get("/one");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->body, "a");
  absl::StatusOr<ClientResponse> second = (*client)->Get("/two");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->body, "b");
  EXPECT_EQ((*client)->connections_opened(), 2u);
  fake.join();
  ::close(listener);
}

TEST(ClientTest, CreateRejectsBadUrls) {
  EXPECT_EQ(Client::Create("https://h:1").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Client::Create("no-port").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace heteroaccel::http

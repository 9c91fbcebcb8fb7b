// Client: a small synchronous HTTP/1.1 client over one keep-alive connection,
// for command-line tools, tests and benchmarks (not for the data path between
// services, which should not block a thread per request).
//
// The connection opens on the first request and is reused. Before reusing it
// the client checks that the server has not closed it (its keep-alive timeout);
// if the server closes it in the instant between that check and the request, the
// request is retried once on a fresh connection. That retry happens only when no
// byte of a response had arrived, so a request can be repeated only if a server
// read it and then closed without answering. Every request has the overall
// deadline given at creation (connect + send + receive).
//
// Errors: Unavailable for connection failures ("cannot connect to
// 127.0.0.1:1234: Connection refused") and lost connections, DeadlineExceeded
// for timeouts, Internal for responses that are not valid HTTP. HTTP error
// statuses are not errors: they come back as a ClientResponse.
//
// Thread-safety: none; use one Client per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "http/message.h"

namespace heteroaccel::http {

struct ClientResponse {
  int status = 0;
  HeaderList headers;  // names lower-cased
  std::string body;

  // The first value of the header `lower_name` (lower-case), or "" when absent.
  std::string_view Header(std::string_view lower_name) const;
};

// Splits "http://host:port[/...]", "host:port" or "[v6]:port" into host and
// port. "http://host" means port 80. Errors are InvalidArgument naming the
// input.
absl::StatusOr<std::pair<std::string, uint16_t>> ParseHostPort(std::string_view url_or_hostport);

class Client {
 public:
  // `base_url` is "http://host:port" or "host:port", optionally with a path
  // prefix ("http://host:port/api") that is prepended to every request path.
  // Resolves the host but does not connect yet.
  static absl::StatusOr<std::unique_ptr<Client>> Create(
      std::string base_url, std::chrono::milliseconds timeout = std::chrono::seconds(30));

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  absl::StatusOr<ClientResponse> Get(std::string_view path);
  absl::StatusOr<ClientResponse> Post(std::string_view path, std::string_view content_type,
                                      std::string body, const HeaderList& extra_headers = {});
  // Any method; `content_type` empty means none. A body is sent with
  // Content-Length whenever the method is not GET or the body is non-empty.
  absl::StatusOr<ClientResponse> Send(std::string_view method, std::string_view path,
                                      std::string_view content_type, std::string_view body,
                                      const HeaderList& extra_headers = {});

  const std::string& host_port() const { return host_port_; }
  // TCP connections opened so far (1 for a fully reused connection).
  uint64_t connections_opened() const { return connections_opened_; }
  // Local port of the current connection, 0 when not connected.
  uint16_t local_port() const;

 private:
  struct Address;

  Client(std::string host_port, std::string path_prefix, std::vector<Address> addresses,
         std::chrono::milliseconds timeout);

  absl::Status Connect(std::chrono::steady_clock::time_point deadline);
  bool IdleConnectionUsable();
  void Disconnect();
  absl::StatusOr<ClientResponse> Exchange(const std::string& head, std::string_view body,
                                          std::chrono::steady_clock::time_point deadline,
                                          bool& stale);
  absl::Status WriteRequest(const std::string& head, std::string_view body,
                            std::chrono::steady_clock::time_point deadline, bool& response_early);
  absl::StatusOr<ClientResponse> ReadResponse(std::chrono::steady_clock::time_point deadline,
                                              bool& stale);
  // Waits for `events` on the socket; DeadlineExceeded once the deadline passes.
  absl::Status Wait(short events, std::chrono::steady_clock::time_point deadline,
                    short* revents = nullptr);
  absl::Status Timeout(std::string_view what) const;

  const std::string host_port_;
  const std::string path_prefix_;
  const std::vector<Address> addresses_;
  const std::chrono::milliseconds timeout_;
  int fd_ = -1;
  uint64_t connections_opened_ = 0;
  std::string read_buffer_;  // unparsed bytes live in [read_begin_, read_end_)
  size_t read_begin_ = 0;
  size_t read_end_ = 0;
};

}  // namespace heteroaccel::http

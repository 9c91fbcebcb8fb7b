// Server: an asynchronous HTTP/1.1 server (Boost.Beast/Asio underneath) that
// dispatches requests through a Router.
//
// Model: `io_threads` event loops, one thread each; the acceptor hands each new
// connection to the next loop, which reads and parses it for its whole life.
// Handlers run on that io thread and must return quickly; slow work belongs on
// the application's own threads, which complete the request later through the
// Responder. A Responder called on such a thread writes the response to the
// socket from that thread (a non-blocking send under the connection's lock), so
// the io thread is not woken to answer; only what the socket cannot take at
// once is left to the io thread.
//
// Protocol behaviour:
//  - keep-alive per HTTP/1.1 (HTTP/1.0 only with "Connection: keep-alive"),
//    "Connection: close" honoured; TCP_NODELAY on every connection.
//  - pipelining: up to kMaxPipelinedRequests requests per connection are read
//    ahead and dispatched at once; responses always leave in request order,
//    whatever order and thread the Responders are called from. Beyond the bound
//    the connection stops reading until responses go out.
//  - limits: a body over max_body_bytes gets 413 (checked on Content-Length
//    before the body is read, and on the running size of chunked bodies); a
//    request header over max_header_bytes gets 431; unparseable requests get
//    400. After these the connection is closed once the response is written.
//    "Expect: 100-continue" is answered with "100 Continue".
//  - idle_timeout: a connection on which no read or write completes for that
//    long is closed. This includes one waiting on a handler that never calls its
//    Responder (or takes longer than idle_timeout): that request is abandoned
//    and the client sees the connection close. A Responder called after its
//    connection closed (or after the server is gone) does nothing; it keeps no
//    connection alive, only the (small) event loop it posts to.
//  - every response carries Date and "Server: heteroaccel".
//
// Ownership and threading: Create() binds and listens; Start() launches the io
// threads. Stop() (also run by the destructor) stops accepting, closes every
// connection without waiting for outstanding handlers, and joins the threads.
// All public methods are thread-safe, but Stop() and the destructor must not be
// called from a handler (an io thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "http/message.h"
#include "http/router.h"

namespace heteroaccel::http {

namespace internal {
struct IoLoop;
struct ServerCore;
}  // namespace internal

struct ServerOptions {
  std::string host = "127.0.0.1";  // an address or a resolvable name
  uint16_t port = 0;               // 0 picks a free port; see Server::port()
  int io_threads = 1;
  size_t max_body_bytes = 16u << 20;
  size_t max_header_bytes = 64u << 10;
  std::chrono::seconds idle_timeout{60};
  // Builds the response for errors the server raises itself (404, 405, 413,
  // 431, 400, and 500 for a handler that throws). The server keeps its status
  // code and adds Allow to 405s. Default: DefaultErrorResponse. Called on io
  // threads; must be thread-safe.
  std::function<Response(int status, std::string message)> error_responder;
};

class Server {
 public:
  // Requests read ahead on one connection before it stops reading.
  static constexpr size_t kMaxPipelinedRequests = 16;

  // Binds and listens. Errors: InvalidArgument for a bad option or an
  // unresolvable host, Unavailable when the address cannot be bound (e.g.
  // "cannot listen on 127.0.0.1:8000: Address already in use").
  static absl::StatusOr<std::unique_ptr<Server>> Create(ServerOptions options, Router router);

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  ~Server();

  // Starts accepting on the io threads and returns at once. Call at most once.
  void Start();

  // Graceful and idempotent; see the header comment.
  void Stop();

  uint16_t port() const { return port_; }
  const std::string& address() const { return address_; }  // "127.0.0.1:8000", "[::1]:8000"

  // Observability for tests and metrics.
  uint64_t accepted_connections() const;
  uint64_t open_connections() const;

 private:
  Server(std::unique_ptr<internal::ServerCore> core, uint16_t port, std::string address);

  std::unique_ptr<internal::ServerCore> core_;
  const uint16_t port_;
  const std::string address_;
  std::mutex lifecycle_mu_;
  bool started_ ABSL_GUARDED_BY(lifecycle_mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(lifecycle_mu_) = false;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(lifecycle_mu_);
};

}  // namespace heteroaccel::http

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
//    request header over max_header_bytes gets 431; unparseable requests (a
//    bad Content-Length or chunk size, bad header bytes, a Transfer-Encoding
//    other than "chunked") get 400. After these the connection is closed once
//    the response is written. A path with bad percent-encoding gets 400 too,
//    but the connection stays open. "Expect: 100-continue" is answered with
//    "100 Continue".
//  - errors: nothing a handler or error_responder throws leaves the server. A
//    handler that throws gets 500; an error_responder that throws is replaced
//    by DefaultErrorResponse for that response. Any other exception while
//    serving a connection closes that connection only.
//  - header_timeout (default 10 s): a request whose header is not complete
//    this long after its first byte arrived (the first request of a
//    connection: after the connection was accepted) gets 408 and the
//    connection is closed; a connection that sent nothing is closed silently.
//    Bytes trickling in do not extend it. A connection answered 408 is closed
//    within 2 s whatever the client does.
//  - min_body_bytes_per_second (default 16 KiB/s): a request body must arrive
//    at that average rate after a grace of header_timeout: when t has passed
//    since its header completed and fewer than (t - header_timeout) * rate of
//    its bytes have arrived, it gets 408 and the connection closes. A body sent
//    one byte every few seconds is thus gone after about header_timeout, while
//    a camera on a slow uplink still has minutes for a large image. 0 turns
//    the rate off (only idle_timeout then bounds a body).
//  - idle_timeout (default 60 s): a connection with a request in progress (its
//    body being read, or its handler still working) on which no read or write
//    completes for that long is closed (a stream: see "streaming"). This
//    includes one waiting on a handler that never calls its Responder (or
//    takes longer than idle_timeout): that request is abandoned and the client
//    sees the connection close. A Responder called after its connection closed
//    (or after the server is gone) does nothing; it keeps no connection alive,
//    only the (small) event loop it posts to.
//  - keepalive_timeout (default 30 s): a keep-alive connection waiting for its
//    next request, with nothing in flight, is closed after that long.
//  - max_connections (default 0: min(4096, RLIMIT_NOFILE soft limit minus a
//    reserve of a quarter of it, at least 64 and at most 1024), so that the
//    process keeps descriptors for its own files and outgoing sockets; the cap
//    bounds the read buffers (64 KiB each) idle connections may hold. An
//    explicit value is capped at the soft limit minus 32). A connection
//    accepted at the bound sheds an idle one: first those closing or idle
//    between keep-alive requests, then those still sending their request
//    header, oldest first. Connections with a request in flight (its body
//    being read, or a response owed) are never shed; when only such are open
//    the newcomer gets 503 with Retry-After and is closed. The bound may be
//    passed briefly by a connection whose shedding raced with a new request.
//    When accept fails (EMFILE, ENFILE, ...) the server sheds an idle
//    connection, waits 10 ms (50 ms when nothing could be shed) and retries.
//  - max_inflight_body_bytes (default 512 MiB): the request bodies held by all
//    connections together, counted per request from Content-Length when its
//    header is parsed (chunked bodies: as they grow) until its response has
//    been written (a streamed one: its head) or its connection closes. A
//    request that would pass the bound gets 503 with "Retry-After: 1" before
//    its body is read, and its connection is closed. Must be at least
//    max_body_bytes. The default holds 32 bodies of the default max_body_bytes
//    (16 MiB) at once: far more than the devices work on at a time, far less
//    than the memory of an edge node.
//  - streaming (Response::stream, for Server-Sent Events): the head takes its
//    turn among pipelined responses like any other (chunked for HTTP/1.1,
//    close-delimited for 1.0, "Connection: close" either way); then the
//    application's callback gets a StreamWriter (on the io thread) and may
//    write from any thread, by the Responder's path (a non-blocking send under
//    the connection's lock, the rest left to the io thread). The connection
//    then reads no further request (those pipelined after the stream are
//    dropped unanswered) and closes when the stream ends; it keeps a read
//    posted only to notice the client leaving, which closes the stream at
//    once. No timeout closes a stream, however long it stays silent; only a
//    write the client has not taken for idle_timeout does. A client whose
//    unsent bytes would pass Response::stream_max_unsent is dropped at once.
//    Streams count as connections with a request in flight (never shed) but
//    hold no request body bytes once started. Stop() closes every stream and
//    runs its OnClose callbacks before it returns.
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
#include <string_view>
#include <thread>
#include <utility>
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
  // The limits below are described in the header comment.
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds keepalive_timeout{30'000};
  size_t min_body_bytes_per_second = 16u << 10;
  size_t max_connections = 0;  // 0: derived from RLIMIT_NOFILE
  size_t max_inflight_body_bytes = size_t{512} << 20;
  // Builds the response for errors the server raises itself (404, 405, 408,
  // 413, 431, 400, 503, and 500 for a handler that throws). The server keeps
  // its status code and adds Allow to 405s and Retry-After to 503s. Default:
  // DefaultErrorResponse, which is also used when this throws. Called on io
  // threads; must be thread-safe.
  std::function<Response(int status, std::string message)> error_responder;
};

// A listen address: "HOST:PORT" or "[V6]:PORT", where PORT may be 0 (pick a
// free port). InvalidArgument with an example otherwise. The one parser for
// every listening flag and config key.
absl::StatusOr<std::pair<std::string, uint16_t>> ParseListenAddress(std::string_view listen);

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

  // The connection bound in force (ServerOptions::max_connections resolved).
  size_t max_connections() const;

  // Observability for tests and metrics. Counters are totals since Create().
  uint64_t accepted_connections() const;
  uint64_t open_connections() const;
  uint64_t shed_connections() const;     // idle ones closed for a newcomer
  uint64_t refused_connections() const;  // newcomers closed: none could be shed
  uint64_t header_timeouts() const;      // closed by header_timeout
  uint64_t body_timeouts() const;        // closed by min_body_bytes_per_second
  uint64_t refused_bodies() const;       // 503s for max_inflight_body_bytes
  uint64_t inflight_body_bytes() const;  // held now

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

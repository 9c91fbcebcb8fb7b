// Plain HTTP request and response values exchanged between the server (server.h)
// and application handlers registered on a Router (router.h).
//
// These are value types without any dependency on the wire library: the server
// parses bytes into a Request, hands it to a Handler by rvalue, and serializes
// the Response that the handler passes to its Responder. Handlers own what they
// receive. A Responder may be called from any thread, exactly once; later calls
// are ignored. The types themselves are not synchronized, except StreamWriter
// (the body of a streaming response), which is thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace heteroaccel::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;  // "GET", "POST", ... as sent (methods are case-sensitive)
  std::string path;    // percent-decoded path without the query
  std::string query;   // raw query string, without '?'
  HeaderList headers;  // names lower-cased, values as sent, in wire order
  std::string body;

  // The first value of the header `lower_name` (which must be lower-case), or ""
  // when absent.
  std::string_view Header(std::string_view lower_name) const;
};

// The body of a streaming response (Response::stream), e.g. Server-Sent Events.
// Thread-safe; Write never blocks. The server holds it only while the stream is
// open; a writer kept longer (past its connection or the Server) is inert:
// Write returns false, OnClose runs its callback at once.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  // Queues bytes for the client. Returns false, writing nothing, once the stream
  // is closed: client gone, server stopping, Close() called, or - the slow-consumer
  // rule - when the bytes not yet sent (chunk framing included) would exceed
  // Response::stream_max_unsent (the stream is then closed at once: a client that
  // cannot keep up is dropped; it may reconnect). An empty `bytes` writes nothing.
  virtual bool Write(std::string_view bytes) = 0;
  // Ends the response after what is queued has been sent; the connection then closes.
  virtual void Close() = 0;
  virtual bool closed() const = 0;
  // `callback` runs exactly once when the stream closes for any reason: on the
  // connection's io thread once the connection has closed (never inside Write
  // or Close, so it may take locks their callers hold), or at once, on the
  // caller's thread, if already closed. Must not call Server::Stop().
  virtual void OnClose(std::function<void()> callback) = 0;
  // Bytes of Write()s the socket has taken (chunk framing not counted).
  virtual uint64_t bytes_sent() const = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  // Extra headers, e.g. {"Retry-After", "1"}. The server owns Content-Length,
  // Connection, Date, Server and Transfer-Encoding and drops application values
  // for them, as well as any header whose name or value contains CR or LF.
  HeaderList headers;
  std::string body;
  // When set, the response is streamed: status and headers go out (chunked
  // transfer encoding for HTTP/1.1, close-delimited for 1.0; "Connection:
  // close" either way), then `stream` is called once with the writer, on the
  // connection's io thread (so it must return quickly, like a handler). `body`
  // is ignored. The stream takes its turn among pipelined responses; requests
  // pipelined after it are not served, and the connection closes when the
  // stream ends. `stream` is not called when the connection closes before the
  // stream starts. Ignored for statuses without a body (1xx, 204, 304).
  std::function<void(std::shared_ptr<StreamWriter>)> stream;
  size_t stream_max_unsent = 1u << 20;
};

// Completes one request. Call exactly once, from any thread; the connection
// sends responses in request order whatever order handlers complete in.
using Responder = std::function<void(Response)>;

// Values of the "{name}" segments of the matched route pattern, in pattern
// order, percent-decoded.
using PathParams = std::vector<std::pair<std::string, std::string>>;

// Runs on a server io thread: it must return quickly and hand heavy work to its
// own threads, keeping the Responder to complete the request later.
using Handler = std::function<void(Request&&, const PathParams&, Responder)>;

// {"error":"<message>"} with the message escaped as a JSON string; the body the
// server uses for the errors it raises itself unless the application supplies
// ServerOptions::error_responder.
Response DefaultErrorResponse(int status, std::string_view message);

// The canonical reason phrase ("Not Found"), or "Unknown" for unlisted codes.
std::string_view ReasonPhrase(int status);

}  // namespace heteroaccel::http

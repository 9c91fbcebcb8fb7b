// RequestPipeline: the bytes-to-handlers half of an HTTP/1.1 server
// connection, free of sockets, timers and threads. Bytes go in (buffer(), then
// Parse()); out come handler calls and error responses, all through a
// PipelineHost, which owns the response slots and the write side.
//
// It holds everything a connection decides from the bytes a client sent: the
// Beast parser with the header and body limits (431, 413), malformed requests
// (400, as is a Transfer-Encoding other than "chunked", whose body's length
// would be a guess), the body bytes counted against the server-wide bound
// before they are read (503), "Expect: 100-continue", keep-alive and HTTP/1.0,
// the conversion to a Request (percent-decoding, 400), the route lookup (404,
// 405 with Allow), the handler call with its exception guard (500) and the
// error bodies (the application's error_responder, guarded). Connection
// (connection.h) drives it from a socket; the HTTP request fuzzer
// (src/fuzz/http_request_fuzzer.cc) drives the same code from memory, so what
// the fuzzer finds is what a socket would see.
//
// Errors in the framing (400, 413, 431, 503, and 408 through PushTimeout) end
// reading: the rest of the connection's bytes are dropped (accepting() turns
// false) and the error response is queued with close_after set. Errors of one
// well-framed request (its path's escapes, 404, 405, 500) answer it alone.
//
// Threading: a RequestPipeline is used by one thread at a time (a connection's
// loop thread). The host's methods may be called from that thread only, except
// Complete and the Responders it makes, which handlers may call from any
// thread. The options, router and host must outlive the pipeline.
#pragma once

// GCC 12 in C++20 needs <utility> ahead of the Boost headers.
// clang-format off
#include <utility>
// clang-format on

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/message.h"
#include "http/router.h"
#include "http/server.h"

namespace heteroaccel::http::internal {

// The response for an error the server raises itself, with `status` kept:
// options.error_responder's, or DefaultErrorResponse when there is none or it
// throws.
Response MakeErrorResponse(const ServerOptions& options, int status, std::string message);

// The wire form of `response`: its status line and headers in `head`, its body
// moved to `body` (nothing for 1xx, 204 and 304). A status outside 100..999
// becomes 500; headers the server owns (Content-Length, Connection, Date,
// Server, Transfer-Encoding) and headers with CR, LF or a bad name are dropped.
// `close_after` adds "Connection: close", else `http10` "Connection: keep-alive".
void SerializeResponse(Response&& response, bool close_after, bool http10, std::string& head,
                       std::string& body);

// Whether `response` is sent as a stream: it has Response::stream and a status
// that carries a body.
bool IsStreamed(const Response& response);
// The head of a streamed response: like SerializeResponse's, without
// Content-Length, with "Transfer-Encoding: chunked" (HTTP/1.1; for 1.0 the body
// ends when the connection closes) and "Connection: close".
void SerializeStreamHead(const Response& response, bool http10, std::string& head);

// What a RequestPipeline needs from the connection that owns it.
class PipelineHost {
 public:
  virtual ~PipelineHost() = default;

  // Whether another response slot may be opened (the pipelining bound).
  virtual bool HasRoom() const = 0;
  // The read side's progress, for the deadlines: the first byte of a request
  // arrived; its header is complete and its body follows; `n` more bytes of
  // that body arrived; the request was read whole, or reading stopped.
  virtual void OnRequestBegun() = 0;
  virtual void OnBodyBegun() = 0;
  virtual void OnBodyBytes(size_t n) = 0;
  virtual void OnRequestEnded() = 0;
  // Counts `bytes` of request body against the server-wide bound; false (and
  // nothing counted) when they would pass it. ReleaseBody gives bytes back.
  virtual bool ReserveBody(size_t bytes) = 0;
  virtual void ReleaseBody(size_t bytes) = 0;
  // Sends "100 Continue" ahead of the responses still owed.
  virtual void SendContinue() = 0;
  // Opens the next response slot, in request order, holding `body_bytes` of
  // counted request body until its response is written; returns its sequence
  // number.
  virtual uint64_t PushSlot(bool close_after, bool http10, size_t body_bytes) = 0;
  // Fills slot `seq`; ignored when already filled. Any thread.
  virtual void Complete(uint64_t seq, Response response) = 0;
  // The Responder a handler gets for slot `seq`. Calling it must not throw.
  virtual Responder MakeResponder(uint64_t seq) = 0;
};

class RequestPipeline {
 public:
  RequestPipeline(const ServerOptions& options, const Router& router, PipelineHost& host);

  RequestPipeline(const RequestPipeline&) = delete;
  RequestPipeline& operator=(const RequestPipeline&) = delete;

  // Where the bytes read go: prepare(), then commit() what arrived.
  boost::beast::flat_buffer& buffer() { return buffer_; }
  // Copies `bytes` into buffer() (tests and the fuzzer).
  void Append(std::string_view bytes);

  // Parses what buffer() holds while requests are accepted and the host has
  // room, dispatching each complete request (its handler, or its error
  // response) in order. What is parsed is consumed. May throw what a handler's
  // Responder or the allocator throws; the caller ends the connection then.
  void Parse();

  // False once a request asked to close, an error ended reading, or
  // StopAccepting() was called: Parse() takes no further request.
  bool accepting() const { return accepting_; }
  void StopAccepting() { accepting_ = false; }
  // Some byte of the request being parsed has been seen.
  bool got_some() const { return buffer_.size() > 0 || (parser_ && parser_->got_some()); }

  // Stops reading requests: the request being parsed, its counted body and
  // what buffer() holds are dropped.
  void StopReading();
  // Drops the request being parsed and gives its counted body back (the
  // connection is closing).
  void Reset();

  // Queues an error response in a new slot.
  void PushError(int status, std::string message, bool close_after, bool http10,
                 HeaderList extra_headers = {});
  // Queues the 408 for a header (`header`) or body that arrived too slowly,
  // closing after it. Call StopReading() first.
  void PushTimeout(bool header);

 private:
  using Parser = boost::beast::http::request_parser<boost::beast::http::string_body>;
  using Message = boost::beast::http::request<boost::beast::http::string_body>;

  // Inspects a header just completed; false when the request was refused.
  bool OnHeader();
  // Counts what a chunked body grew by; false when the request was refused.
  bool CountChunkedBody();
  void OnParseError(boost::beast::error_code ec);
  void RefuseBody(bool http10);
  void Dispatch(Message&& message);
  // Gives back the body counted for the request being parsed.
  void ReleaseParsedBody();

  const ServerOptions& options_;
  const Router& router_;
  PipelineHost& host_;
  boost::beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  bool header_seen_ = false;  // the current parser's header was inspected
  bool accepting_ = true;
  size_t parse_body_bytes_ = 0;  // counted for the request being parsed
};

}  // namespace heteroaccel::http::internal

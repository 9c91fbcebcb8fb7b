// Plain HTTP request and response values exchanged between the server (server.h)
// and application handlers registered on a Router (router.h).
//
// These are value types without any dependency on the wire library: the server
// parses bytes into a Request, hands it to a Handler by rvalue, and serializes
// the Response that the handler passes to its Responder. Handlers own what they
// receive. A Responder may be called from any thread, exactly once; later calls
// are ignored. The types themselves are not synchronized.
#pragma once

#include <functional>
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

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  // Extra headers, e.g. {"Retry-After", "1"}. The server owns Content-Length,
  // Connection, Date and Server and drops application values for them, as well
  // as any header whose name or value contains CR or LF.
  HeaderList headers;
  std::string body;
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

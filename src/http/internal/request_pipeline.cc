#include "http/internal/request_pipeline.h"

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <cstdio>
#include <ctime>
#include <exception>
#include <iterator>

#include "http/internal/text.h"
#include "http/internal/url.h"

namespace heteroaccel::http::internal {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

// "Date: Tue, 15 Nov 1994 08:12:31 GMT\r\n", formatted once per second per thread.
std::string_view DateHeader() {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  thread_local std::time_t cached_second = -1;
  thread_local char line[64];
  thread_local size_t line_size = 0;
  const std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    const int n = std::snprintf(line, sizeof(line), "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                                kDays[tm.tm_wday % 7], tm.tm_mday, kMonths[tm.tm_mon % 12],
                                tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    line_size = n > 0 ? static_cast<size_t>(n) : 0;
    cached_second = now;
  }
  return {line, line_size};
}

bool IsServerOwnedHeader(std::string_view name) {
  return EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "connection") ||
         EqualsIgnoreCase(name, "date") || EqualsIgnoreCase(name, "server") ||
         EqualsIgnoreCase(name, "transfer-encoding");
}

// True when the Transfer-Encoding fields of `header` name exactly one coding,
// chunked, or are absent: the only framing besides Content-Length that the
// server reads. Any other list (gzip; gzip, chunked; chunked, chunked) would
// leave the body's length, or its meaning, to a guess.
template <typename Header>
bool TransferEncodingIsChunkedOrAbsent(const Header& header) {
  size_t codings = 0;
  bool other = false;
  for (const auto& field : header) {
    if (field.name() != http::field::transfer_encoding) continue;
    std::string_view list = field.value();
    while (!list.empty()) {
      const size_t comma = list.find(',');
      std::string_view coding = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      const size_t first = coding.find_first_not_of(" \t");
      if (first == std::string_view::npos) continue;  // empty list elements are allowed
      coding = coding.substr(first, coding.find_last_not_of(" \t") + 1 - first);
      ++codings;
      other = other || !EqualsIgnoreCase(coding, "chunked");
    }
  }
  return !other && codings <= 1;
}

bool IsSafeHeader(std::string_view name, std::string_view value) {
  return !name.empty() && name.find_first_of("\r\n: ") == std::string_view::npos &&
         value.find_first_of("\r\n") == std::string_view::npos;
}

}  // namespace

Response MakeErrorResponse(const ServerOptions& options, int status, std::string message) {
  if (options.error_responder) {
    try {
      Response response = options.error_responder(status, message);
      response.status = status;  // the server decided the status; the application shapes the body
      return response;
    } catch (...) {
      // The application's hook failed; the built-in body still answers the client.
    }
  }
  return DefaultErrorResponse(status, message);
}

namespace {

// How a response's body is delimited on the wire.
enum class Framing : uint8_t { kLength, kChunked, kUntilClose };

int WireStatus(const Response& response) {
  return response.status >= 100 && response.status <= 999 ? response.status : 500;
}

bool IsBodiless(int status) { return status < 200 || status == 204 || status == 304; }

// The status line and headers of `response` (which keeps its body), framed as
// `framing` says; returns whether a body follows them.
bool SerializeHead(const Response& response, Framing framing, bool close_after, bool http10,
                   std::string& head) {
  const int status = WireStatus(response);
  const bool bodiless = IsBodiless(status);
  head.reserve(160 + response.content_type.size());
  head.append("HTTP/1.1 ");
  AppendPiece(head, static_cast<uint64_t>(status));
  head.push_back(' ');
  head.append(ReasonPhrase(status));
  head.append("\r\nServer: heteroaccel\r\n");
  head.append(DateHeader());
  if (!bodiless) {
    if (!response.content_type.empty() && IsSafeHeader("content-type", response.content_type)) {
      head.append("Content-Type: ").append(response.content_type).append("\r\n");
    }
    if (framing == Framing::kLength) {
      head.append("Content-Length: ");
      AppendPiece(head, response.body.size());
      head.append("\r\n");
    } else if (framing == Framing::kChunked) {
      head.append("Transfer-Encoding: chunked\r\n");
    }
  }
  for (const auto& [name, value] : response.headers) {
    if (!IsSafeHeader(name, value) || IsServerOwnedHeader(name)) continue;
    head.append(name).append(": ").append(value).append("\r\n");
  }
  if (close_after) {
    head.append("Connection: close\r\n");
  } else if (http10) {
    head.append("Connection: keep-alive\r\n");
  }
  head.append("\r\n");
  return !bodiless;
}

}  // namespace

void SerializeResponse(Response&& response, bool close_after, bool http10, std::string& head,
                       std::string& body) {
  if (SerializeHead(response, Framing::kLength, close_after, http10, head)) {
    body = std::move(response.body);
  }
}

bool IsStreamed(const Response& response) {
  return response.stream && !IsBodiless(WireStatus(response));
}

void SerializeStreamHead(const Response& response, bool http10, std::string& head) {
  SerializeHead(response, http10 ? Framing::kUntilClose : Framing::kChunked, /*close_after=*/true,
                http10, head);
}

RequestPipeline::RequestPipeline(const ServerOptions& options, const Router& router,
                                 PipelineHost& host)
    : options_(options), router_(router), host_(host) {}

void RequestPipeline::Append(std::string_view bytes) {
  const size_t n = boost::asio::buffer_copy(buffer_.prepare(bytes.size()),
                                            boost::asio::buffer(bytes.data(), bytes.size()));
  buffer_.commit(n);
}

void RequestPipeline::Parse() {
  while (accepting_ && buffer_.size() > 0 && host_.HasRoom()) {
    if (!parser_) {
      parser_.emplace();
      parser_->header_limit(
          static_cast<uint32_t>(std::min<size_t>(options_.max_header_bytes, UINT32_MAX)));
      parser_->body_limit(options_.max_body_bytes);
      header_seen_ = false;
      host_.OnRequestBegun();
    }
    beast::error_code ec;
    const size_t used = parser_->put(buffer_.data(), ec);
    buffer_.consume(used);
    if (ec == http::error::need_more) break;
    if (ec) {
      OnParseError(ec);
      return;
    }
    if (!header_seen_ && parser_->is_header_done()) {
      header_seen_ = true;
      if (!OnHeader()) return;
    } else if (header_seen_ && used > 0) {
      host_.OnBodyBytes(used);
    }
    if (parser_->chunked() && !CountChunkedBody()) return;
    if (parser_->is_done()) {
      Message message = parser_->release();
      parser_.reset();
      host_.OnRequestEnded();
      Dispatch(std::move(message));
    } else if (used == 0) {
      break;
    }
  }
}

bool RequestPipeline::OnHeader() {
  const auto& header = parser_->get();
  const bool http10 = header.version() < 11;
  if (!TransferEncodingIsChunkedOrAbsent(header)) {
    // RFC 9112 6.1: without chunked as the final coding the body's length is
    // unknown; what follows must not be read as the next request.
    std::string message = Cat("Transfer-Encoding '", header[http::field::transfer_encoding],
                              "' is not supported; send the body with Content-Length or "
                              "Transfer-Encoding: chunked");
    StopReading();  // `header` dies with the parser
    PushError(400, std::move(message), /*close_after=*/true, http10);
    return false;
  }
  // The declared body is counted before any of it is read.
  if (const auto length = parser_->content_length(); length && *length > 0) {
    if (!host_.ReserveBody(static_cast<size_t>(*length))) {
      RefuseBody(http10);
      return false;
    }
    parse_body_bytes_ = static_cast<size_t>(*length);
  }
  if (parser_->is_done()) return true;
  host_.OnBodyBegun();
  if (header.version() >= 11 && EqualsIgnoreCase(header[http::field::expect], "100-continue")) {
    host_.SendContinue();
  }
  return true;
}

bool RequestPipeline::CountChunkedBody() {
  const size_t size = parser_->get().body().size();
  if (size <= parse_body_bytes_) return true;
  if (!host_.ReserveBody(size - parse_body_bytes_)) {
    RefuseBody(parser_->get().version() < 11);
    return false;
  }
  parse_body_bytes_ = size;
  return true;
}

void RequestPipeline::ReleaseParsedBody() {
  host_.ReleaseBody(std::exchange(parse_body_bytes_, 0));
}

void RequestPipeline::StopReading() {
  parser_.reset();
  accepting_ = false;
  ReleaseParsedBody();
  buffer_.consume(buffer_.size());
  host_.OnRequestEnded();
}

void RequestPipeline::Reset() {
  parser_.reset();
  ReleaseParsedBody();
}

void RequestPipeline::RefuseBody(bool http10) {
  StopReading();
  // The body stays unread, so the connection cannot carry another request.
  PushError(503,
            Cat("request bodies in flight would exceed ", options_.max_inflight_body_bytes,
                " bytes; retry later"),
            /*close_after=*/true, http10, {{"Retry-After", "1"}});
}

void RequestPipeline::OnParseError(beast::error_code ec) {
  StopReading();
  if (ec == http::error::body_limit) {
    PushError(413, Cat("request body exceeds the limit of ", options_.max_body_bytes, " bytes"),
              true, false);
  } else if (ec == http::error::header_limit) {
    PushError(431, Cat("request header exceeds the limit of ", options_.max_header_bytes, " bytes"),
              true, false);
  } else {
    PushError(400, Cat("malformed HTTP request: ", ec.message()), true, false);
  }
}

void RequestPipeline::PushTimeout(bool header) {
  PushError(408,
            header
                ? Cat("request header not complete within ", options_.header_timeout.count(), " ms")
                : Cat("request body arrived slower than ", options_.min_body_bytes_per_second,
                      " bytes per second"),
            /*close_after=*/true, /*http10=*/false);
}

void RequestPipeline::Dispatch(Message&& message) {
  const bool keep_alive = message.keep_alive();
  const bool http10 = message.version() < 11;
  if (!keep_alive) accepting_ = false;
  std::string_view raw_path;
  std::string_view query;
  SplitTarget(message.target(), raw_path, query);

  // Errors found here drop the body at once; a handler keeps it until its
  // response is written.
  Request request;
  if (!PercentDecode(raw_path, request.path)) {
    ReleaseParsedBody();
    PushError(400, Cat("malformed percent-encoding in path ", raw_path), !keep_alive, http10);
    return;
  }
  const std::string_view method = message.method_string();
  Router::Match match = router_.Find(method, raw_path);
  if (match.result == Router::Match::Result::kNotFound) {
    ReleaseParsedBody();
    PushError(404, Cat("no route for ", method, " ", request.path), !keep_alive, http10);
    return;
  }
  if (match.result == Router::Match::Result::kMethodNotAllowed) {
    ReleaseParsedBody();
    PushError(405, Cat("method ", method, " not allowed for ", request.path), !keep_alive, http10,
              {{"Allow", std::string(match.allow)}});
    return;
  }

  request.method = std::string(method);
  request.query = std::string(query);
  request.headers.reserve(static_cast<size_t>(std::distance(message.begin(), message.end())));
  for (const auto& field : message) {
    request.headers.emplace_back(ToLower(field.name_string()), std::string(field.value()));
  }
  request.body = std::move(message.body());

  const uint64_t seq = host_.PushSlot(!keep_alive, http10, std::exchange(parse_body_bytes_, 0));
  // The handler may answer at once, on this thread or another.
  try {
    (*match.handler)(std::move(request), match.params, host_.MakeResponder(seq));
  } catch (const std::exception& e) {
    host_.Complete(seq, MakeErrorResponse(options_, 500, Cat("handler failed: ", e.what())));
  } catch (...) {
    host_.Complete(seq, MakeErrorResponse(options_, 500, "handler failed"));
  }
}

void RequestPipeline::PushError(int status, std::string message, bool close_after, bool http10,
                                HeaderList extra_headers) {
  Response response = MakeErrorResponse(options_, status, std::move(message));
  for (auto& header : extra_headers) response.headers.push_back(std::move(header));
  const uint64_t seq = host_.PushSlot(close_after, http10, 0);
  host_.Complete(seq, std::move(response));
}

}  // namespace heteroaccel::http::internal

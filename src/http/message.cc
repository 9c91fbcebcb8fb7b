#include "http/message.h"

// GCC 12 in C++20 needs <utility> ahead of the Boost headers.
// clang-format off
#include <utility>
// clang-format on

#include <boost/beast/http/status.hpp>

namespace heteroaccel::http {
namespace {

// Length of the well-formed UTF-8 sequence at the start of `in` (1..4), or 0
// when it is not one (a stray continuation byte, an overlong form, a surrogate,
// a code point past U+10FFFF or a truncated sequence).
size_t Utf8SequenceLength(std::string_view in) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(in[i]); };
  const unsigned char b0 = byte(0);
  if (b0 < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    n = 2;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    n = 3;
    if (b0 == 0xe0) lo = 0xa0;
    if (b0 == 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    n = 4;
    if (b0 == 0xf0) lo = 0x90;
    if (b0 == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (in.size() < n || byte(1) < lo || byte(1) > hi) return 0;
  for (size_t i = 2; i < n; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
  }
  return n;
}

// Escapes `in` as the inside of a JSON string. Bytes that are not well-formed
// UTF-8 become U+FFFD, so the result is valid JSON whatever the input held.
void AppendJsonEscaped(std::string_view in, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  while (!in.empty()) {
    const char c = in.front();
    size_t used = 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += kHex[(c >> 4) & 0xf];
          out += kHex[c & 0xf];
        } else if (const size_t n = Utf8SequenceLength(in); n > 0) {
          out.append(in.data(), n);
          used = n;
        } else {
          out += "\\ufffd";
        }
    }
    in.remove_prefix(used);
  }
}

}  // namespace

std::string_view Request::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return {};
}

Response DefaultErrorResponse(int status, std::string_view message) {
  Response response;
  response.status = status;
  response.body.reserve(message.size() + 16);
  response.body = "{\"error\":\"";
  AppendJsonEscaped(message, response.body);
  response.body += "\"}";
  return response;
}

std::string_view ReasonPhrase(int status) {
  if (status < 100 || status > 999) return "Unknown";
  const auto reason = boost::beast::http::obsolete_reason(
      static_cast<boost::beast::http::status>(static_cast<unsigned>(status)));
  return {reason.data(), reason.size()};
}

}  // namespace heteroaccel::http

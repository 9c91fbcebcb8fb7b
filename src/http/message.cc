#include "http/message.h"

// GCC 12 in C++20 needs <utility> ahead of the Boost headers.
// clang-format off
#include <utility>
// clang-format on

#include <boost/beast/http/status.hpp>

namespace heteroaccel::http {
namespace {

void AppendJsonEscaped(std::string_view in, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char c : in) {
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
        } else {
          out += c;
        }
    }
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

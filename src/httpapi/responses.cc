#include "httpapi/responses.h"

#include <charconv>

#include "absl/strings/str_cat.h"
#include "protocol/errors.h"

namespace heteroaccel::httpapi {

http::Response ErrorResponse(const absl::Status& status) {
  const protocol::HttpError error = protocol::ToHttpError(status);
  http::Response response;
  response.status = error.status;
  response.body = error.body;
  if (error.retry_after_seconds) {
    response.headers.emplace_back("Retry-After", std::to_string(*error.retry_after_seconds));
  }
  return response;
}

http::Response JsonResponse(const nlohmann::json& body, int status) {
  http::Response response;
  response.status = status;
  // Strings built from request bytes may hold invalid UTF-8: replaced, never thrown on.
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

http::Response StatusResponse(int status) {
  http::Response response{status, "application/json", {}, ""};
  if (status == 503) response.headers.emplace_back("Retry-After", "1");
  return response;
}

std::string PathParam(const http::PathParams& params, std::string_view name) {
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return "";
}

std::string QueryValue(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == key) {
      return std::string(pair.substr(eq + 1));
    }
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
  }
  return "";
}

absl::StatusOr<std::optional<size_t>> BinaryHeaderLength(const http::Request& request) {
  const std::string_view value = request.Header("inference-header-content-length");
  if (value.empty()) return std::optional<size_t>();
  size_t length = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
  if (ec != std::errc() || end != value.data() + value.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Inference-Header-Content-Length '", std::string(value), "' is not a number"));
  }
  return std::optional<size_t>(length);
}

absl::Status CheckImageContentType(const http::Request& request) {
  const std::string_view type = request.Header("content-type");
  if (type.empty() || type.rfind("image/", 0) == 0 || type == "application/octet-stream") {
    return absl::OkStatus();
  }
  return protocol::WithHttpStatus(
      absl::InvalidArgumentError(absl::StrCat("Content-Type '", std::string(type),
                                              "' is not an image; send image/jpeg or image/png")),
      415);
}

}  // namespace heteroaccel::httpapi

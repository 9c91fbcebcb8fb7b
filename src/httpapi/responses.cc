#include "httpapi/responses.h"

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
  response.body = body.dump();
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

}  // namespace heteroaccel::httpapi

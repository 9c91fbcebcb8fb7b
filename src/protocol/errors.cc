#include "protocol/errors.h"

#include <nlohmann/json.hpp>
#include <optional>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/types/optional.h"
#include "protocol/internal/json_writer.h"
#include "protocol/internal/strings.h"

namespace heteroaccel::protocol {
namespace {

using internal::StrCat;

int HttpStatusForCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAborted:  // a conflicting change (e.g. a stale version)
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

std::optional<int> Override(const absl::Status& status) {
  const absl::optional<absl::Cord> payload =
      status.GetPayload(internal::ToAbsl(kHttpStatusPayloadKey));
  if (!payload.has_value()) return std::nullopt;
  int code = 0;
  if (!absl::SimpleAtoi(std::string(*payload), &code) || code < 400 || code > 599) {
    return std::nullopt;
  }
  return code;
}

}  // namespace

int HttpStatusFor(const absl::Status& status) {
  if (status.ok()) return 500;
  return Override(status).value_or(HttpStatusForCode(status.code()));
}

HttpError ToHttpError(const absl::Status& status) {
  HttpError error;
  error.status = HttpStatusFor(status);
  const std::string_view message = status.ok() ? std::string_view("internal error: no error status")
                                               : internal::ToStd(status.message());
  error.body = "{\"error\":";
  internal::AppendJsonString(&error.body, message);
  error.body.push_back('}');
  if (error.status == 429 || error.status == 503) error.retry_after_seconds = 1;
  return error;
}

absl::Status WithHttpStatus(absl::Status status, int http_status) {
  if (!status.ok()) {
    status.SetPayload(internal::ToAbsl(kHttpStatusPayloadKey), absl::Cord(StrCat(http_status)));
  }
  return status;
}

absl::Status PayloadTooLargeError(size_t limit) {
  return WithHttpStatus(
      absl::OutOfRangeError(StrCat("request body is larger than the limit of ", limit, " bytes")),
      413);
}

absl::Status StatusFromHttp(int http_status, std::string_view body) {
  std::string message(body);
  const nlohmann::json json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_object() && json.contains("error") && json["error"].is_string()) {
    message = json["error"].get<std::string>();
  }
  message = "HTTP " + std::to_string(http_status) + ": " + message;
  switch (http_status) {
    case 400:
    case 413:
    case 415:
      return absl::InvalidArgumentError(message);
    case 401:
      return absl::UnauthenticatedError(message);
    case 403:
      return absl::PermissionDeniedError(message);
    case 404:
      return absl::NotFoundError(message);
    case 429:
      return absl::ResourceExhaustedError(message);
    case 501:
      return absl::UnimplementedError(message);
    case 503:
      return absl::UnavailableError(message);
    case 504:
      return absl::DeadlineExceededError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace heteroaccel::protocol

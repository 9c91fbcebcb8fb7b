// The one mapping from absl::Status to an HTTP error response with the KServe
// body {"error": "<message>"}.
//
//   InvalidArgument, FailedPrecondition, OutOfRange -> 400
//   NotFound -> 404            PermissionDenied -> 403     Unauthenticated -> 401
//   ResourceExhausted -> 429   Unavailable -> 503 (both with Retry-After: 1)
//   DeadlineExceeded -> 504    Unimplemented -> 501        anything else -> 500
//
// A status may override the mapping with WithHttpStatus (stored as a status
// payload, so it survives RETURN_IF_ERROR propagation); PayloadTooLargeError
// uses it for 413. Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace heteroaccel::protocol {

// Payload key holding an HTTP status override as decimal text, e.g. "413".
inline constexpr std::string_view kHttpStatusPayloadKey = "heteroaccel/http_status";

struct HttpError {
  int status = 500;
  // {"error":"..."}; always valid JSON (invalid UTF-8 is replaced).
  std::string body;
  // Set for 429 and 503: the client may retry after this many seconds.
  std::optional<int> retry_after_seconds;
};

// An OK status is a caller bug; it maps to 500 "internal error: no error status".
HttpError ToHttpError(const absl::Status& status);

// Returns `status` carrying an HTTP status override for ToHttpError. Codes
// outside 400..599 are ignored by ToHttpError. An OK status is returned as is.
absl::Status WithHttpStatus(absl::Status status, int http_status);

// The HTTP status ToHttpError would use for `status`.
int HttpStatusFor(const absl::Status& status);

// The inverse, for clients and proxies: an HTTP error answer as a Status whose
// message is the body's "error" (or the body itself), prefixed "HTTP <code>: ".
absl::Status StatusFromHttp(int http_status, std::string_view body);

// OutOfRange with a 413 override: "request body is larger than the limit of
// N bytes".
absl::Status PayloadTooLargeError(size_t limit);

}  // namespace heteroaccel::protocol

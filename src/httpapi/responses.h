// The HTTP face shared by the agent's and the server's handlers: a Status as
// the protocol's error answer ({"error": ...}, Retry-After on 429/503), JSON
// answers, and reading path parameters and query values. Pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "http/message.h"

namespace heteroaccel::httpapi {

http::Response ErrorResponse(const absl::Status& status);
http::Response JsonResponse(const nlohmann::json& body, int status = 200);
// An empty answer with just a status (health endpoints); 503 carries Retry-After.
http::Response StatusResponse(int status);

std::string PathParam(const http::PathParams& params, std::string_view name);
// The raw value of `key` in "a=1&b=2" ("" when absent).
std::string QueryValue(std::string_view query, std::string_view key);

// The binary tensor extension's Inference-Header-Content-Length: nullopt when
// absent, InvalidArgument when it is not a number.
absl::StatusOr<std::optional<size_t>> BinaryHeaderLength(const http::Request& request);

// /v1 bodies are image files: an absent Content-Type, image/*, or
// application/octet-stream; anything else is 415 with what to send instead.
absl::Status CheckImageContentType(const http::Request& request);

}  // namespace heteroaccel::httpapi

// Conversions between Tensor element bytes and their two wire forms: the JSON
// "data" array and the binary tensor extension's raw bytes.
//
// Shared by request and response parsing/encoding. Messages name the tensor as
// "<role> '<name>'" (role is "input" or "output") so a user can find the
// offending tensor. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "protocol/tensor.h"

namespace heteroaccel::protocol::internal {

// Converts a JSON "data" value (flat or nested arrays, or a single scalar)
// into tensor->data, checking each value against tensor->datatype and the
// element count against `expected_count`.
//
// JSON forms accepted per datatype:
//   BOOL          true / false
//   integers      integral numbers in the type's range (1.0 is accepted, 1.5 is not)
//   FP16/32/64    any number in range; null reads as NaN (the encoder writes
//                 NaN and infinities as null). FP16 is converted to binary16
//                 with round-to-nearest-even.
//   BYTES         strings (UTF-8 as JSON requires)
absl::Status DecodeJsonData(const nlohmann::json& data, int64_t expected_count,
                            std::string_view role, Tensor* tensor);

// Checks raw binary-extension bytes against tensor's shape and datatype (size,
// BYTES framing, BOOL bytes being 0 or 1) and moves them into tensor->data.
absl::Status DecodeBinaryData(std::string_view bytes, std::string_view role, Tensor* tensor);

// Appends tensor's elements as a flat JSON array. Never fails: malformed
// element bytes (a trailing partial element, broken BYTES framing) are
// written up to the last complete element.
void AppendJsonData(std::string* out, const Tensor& tensor);

}  // namespace heteroaccel::protocol::internal

// Open Inference Protocol (KServe v2) inference bodies: parsing and encoding
// of /infer requests and responses, in plain JSON and with the binary tensor
// data extension (Triton, OVMS).
//
// Everything here is a pure function of its arguments: no I/O, no globals,
// no threads, safe to call concurrently. The parser is the trust boundary for
// request bodies: it accepts arbitrary bytes, never throws, bounds nesting,
// tensor count and element count (Limits), and answers every malformed input
// with absl::InvalidArgumentError whose message names the offending tensor
// (running out of memory yields ResourceExhausted).
//
// Wire decisions worth knowing:
//   * A binary body is the JSON header (its length comes from the
//     Inference-Header-Content-Length HTTP header) followed by the binary
//     section, which holds each binary tensor's bytes in tensor order; their
//     parameters.binary_data_size values must add up to it exactly.
//   * JSON "data" may be flat or nested; only the element count is checked
//     against the shape, as Triton does.
//   * FP16 as JSON numbers is accepted and produced: values convert to and
//     from binary16 with round-to-nearest-even; magnitudes above 65504 that
//     would round to infinity are rejected.
//   * FP NaN and infinities are written to JSON as null, and null reads back
//     as NaN (JSON has no spelling for them; use binary data to keep them).
//   * BYTES elements are JSON strings. Output bytes that are not valid UTF-8
//     are written with U+FFFD replacements in JSON; ask for binary output to
//     receive them unchanged.
//   * Parameters the parser interprets (binary_data_output, binary_data,
//     binary_data_size) are removed from InferRequest::parameters; the
//     encoders write them from the typed fields.
#pragma once

#include <concepts>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "protocol/tensor.h"

namespace heteroaccel::protocol {

// HTTP header carrying the JSON header's length in a binary body.
inline constexpr std::string_view kInferenceHeaderContentLength = "Inference-Header-Content-Length";
inline constexpr std::string_view kJsonContentType = "application/json";
inline constexpr std::string_view kBinaryContentType = "application/octet-stream";
// Spare bytes after a body that save its JSON reader a copy (see ParseInferRequest).
inline constexpr size_t kBodyReadPadding = 64;

struct RequestedOutput {
  std::string name;
  // Resolved when parsing: the output's parameters.binary_data if given,
  // otherwise the request's parameters.binary_data_output.
  bool binary = false;

  bool operator==(const RequestedOutput&) const = default;
};

struct InferRequest {
  std::string id;
  // Request parameters other than binary_data_output.
  nlohmann::json parameters = nlohmann::json::object();
  std::vector<Tensor> inputs;
  // Empty: the caller wants every output of the model.
  std::vector<RequestedOutput> outputs;
  // parameters.binary_data_output: with `outputs` empty, every output is
  // returned as binary. Listed outputs carry their own resolved flag.
  bool binary_output_default = false;

  bool operator==(const InferRequest&) const = default;
};

struct InferResponse {
  std::string model_name;
  std::string model_version;
  // Empty: the encoder echoes the request's id.
  std::string id;
  nlohmann::json parameters = nlohmann::json::object();
  std::vector<Tensor> outputs;

  bool operator==(const InferResponse&) const = default;
};

struct EncodedBody {
  std::string body;
  // Set when the body uses the binary extension: send it as the
  // Inference-Header-Content-Length header.
  std::optional<size_t> json_header_length;
  std::string content_type;
};

struct Limits {
  // Inputs per request (and requested outputs), outputs per response.
  size_t max_tensors = 64;
  // Nesting of JSON arrays and objects; the top-level object is depth 1.
  size_t max_json_depth = 32;
  // Elements per tensor.
  size_t max_elements = 64u << 20;
};

namespace internal {
// The parsers below; `spare` bytes past the end of `body` may be read.
absl::StatusOr<InferRequest> ParseInferRequest(std::string_view body, size_t spare,
                                               std::optional<size_t> json_header_length,
                                               const Limits& limits);
absl::StatusOr<InferResponse> ParseInferResponse(std::string_view body, size_t spare,
                                                 std::optional<size_t> json_header_length,
                                                 const Limits& limits);
}  // namespace internal

// Parses an /infer request body. `json_header_length` is the value of the
// Inference-Header-Content-Length header when present.
//
// The JSON reader reads up to kBodyReadPadding bytes past the JSON text (their
// values do not matter). When they are not in the body (a binary section
// after the JSON) nor, for a std::string body, in its spare capacity, the
// JSON text is copied into a padded buffer first: where the body is
// received, reserve its size + kBodyReadPadding to spare that copy.
inline absl::StatusOr<InferRequest> ParseInferRequest(std::string_view body,
                                                      std::optional<size_t> json_header_length,
                                                      const Limits& limits = {}) {
  return internal::ParseInferRequest(body, 0, json_header_length, limits);
}
// Exactly std::string (a template, so that string literals still pick the
// overload above).
template <std::same_as<std::string> String>
absl::StatusOr<InferRequest> ParseInferRequest(const String& body,
                                               std::optional<size_t> json_header_length,
                                               const Limits& limits = {}) {
  return internal::ParseInferRequest(body, body.capacity() - body.size(), json_header_length,
                                     limits);
}

// Encodes `response` for the client that sent `request`. When the request
// lists outputs, only those are written, in the request's order (names the
// response lacks are skipped: check them first with ValidateRequestedOutputs);
// each is binary if the request asked for it. Otherwise every response output
// is written, binary if binary_output_default. Uses the binary extension iff at
// least one output is binary. Never fails; malformed tensor bytes are written
// up to the last complete element.
EncodedBody EncodeInferResponse(const InferResponse& response, const InferRequest& request);

// InvalidArgument "unknown output 'x'; the model has: a, b" for the first
// requested output whose name is not in `available`.
absl::Status ValidateRequestedOutputs(const InferRequest& request,
                                      const std::vector<std::string>& available);

// Client side: encodes a request, every input as binary data if `binary`.
EncodedBody EncodeInferRequest(const InferRequest& request, bool binary);

// Client side: parses an /infer response body. A body of the form
// {"error": "..."} yields InvalidArgument carrying the server's message.
// Padding as for ParseInferRequest.
inline absl::StatusOr<InferResponse> ParseInferResponse(std::string_view body,
                                                        std::optional<size_t> json_header_length,
                                                        const Limits& limits = {}) {
  return internal::ParseInferResponse(body, 0, json_header_length, limits);
}
template <std::same_as<std::string> String>
absl::StatusOr<InferResponse> ParseInferResponse(const String& body,
                                                 std::optional<size_t> json_header_length,
                                                 const Limits& limits = {}) {
  return internal::ParseInferResponse(body, body.capacity() - body.size(), json_header_length,
                                      limits);
}

}  // namespace heteroaccel::protocol

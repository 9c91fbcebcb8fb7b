// libFuzzer target for the /infer request path: ParseInferRequest on
// arbitrary bytes, then EncodeInferResponse on whatever parsed.
//
// Input layout: byte 0 selects the mode. Even: the rest is a plain JSON body.
// Odd: bytes 1-2 are the Inference-Header-Content-Length value (little
// endian) and the rest is a binary-extension body.
//
// Beyond "no crash, no sanitizer report", it checks properties:
//   * the JSON reader (internal/json_reader.h, simdjson) accepts exactly what
//     nlohmann::json::parse accepts, within the nesting limit, and builds the
//     same DOM, whether it reads the text in place (padding readable after
//     it) or from a copy;
//   * ParseInferRequest gives the same answer for a body in a std::string
//     with spare capacity (read in place) and for a std::string_view (copied);
//   * every rejection is InvalidArgument with a message;
//   * the response encoded from an accepted request (its inputs echoed as
//     outputs) parses back, with identical tensors wherever the wire form is
//     exact (binary outputs; JSON outputs without NaN/infinity or invalid
//     UTF-8);
//   * the request re-encoded by EncodeInferRequest, as JSON and as binary,
//     parses back to the same request under the same exactness rule.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nlohmann/json.hpp"
#include "protocol/inference.h"
#include "protocol/internal/fp16.h"
#include "protocol/internal/json_reader.h"

namespace heteroaccel::protocol {
namespace {

[[noreturn]] void Fail(std::string_view what, std::string_view detail) {
  std::fprintf(stderr, "infer_request_fuzzer: %.*s: %.*s\n", static_cast<int>(what.size()),
               what.data(), static_cast<int>(detail.size()), detail.data());
  std::abort();
}

bool ValidUtf8(std::string_view s) {
  try {
    (void)nlohmann::json(std::string(s)).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

template <typename T>
bool AllFinite(const std::string& data) {
  for (size_t i = 0; i + sizeof(T) <= data.size(); i += sizeof(T)) {
    T v;
    std::memcpy(&v, data.data() + i, sizeof(T));
    if constexpr (std::is_same_v<T, uint16_t>) {
      if (!internal::HalfIsFinite(v)) return false;
    } else if (!std::isfinite(v)) {
      return false;
    }
  }
  return true;
}

// Whether the JSON form of `t` reproduces its bytes exactly.
bool JsonExact(const Tensor& t) {
  switch (t.datatype) {
    case DataType::kFp16:
      return AllFinite<uint16_t>(t.data);
    case DataType::kFp32:
      return AllFinite<float>(t.data);
    case DataType::kFp64:
      return AllFinite<double>(t.data);
    case DataType::kBytes: {
      const absl::StatusOr<std::vector<std::string_view>> elements = t.BytesElements();
      if (!elements.ok()) return false;
      for (std::string_view e : *elements) {
        if (!ValidUtf8(e)) return false;
      }
      return true;
    }
    default:
      return true;
  }
}

void CheckSameTensors(const std::vector<Tensor>& expected, const std::vector<Tensor>& actual,
                      const std::vector<bool>& binary, std::string_view what) {
  if (expected.size() != actual.size()) Fail(what, "tensor count changed");
  for (size_t i = 0; i < expected.size(); ++i) {
    const Tensor& e = expected[i];
    const Tensor& a = actual[i];
    if (e.name != a.name || e.datatype != a.datatype || e.shape != a.shape) {
      Fail(what, "tensor header changed: " + e.name);
    }
    if ((binary[i] || JsonExact(e)) && e.data != a.data)
      Fail(what, "tensor data changed: " + e.name);
  }
}

void CheckJsonReaderMatchesNlohmann(std::string_view text, const Limits& limits) {
  const absl::StatusOr<nlohmann::json> ours = internal::ReadJson({text, 0}, limits.max_json_depth);
  // In place, with padding that must not change the outcome.
  std::string padded(text);
  padded.append(internal::kJsonReadPadding, text.empty() ? ']' : text.back());
  const absl::StatusOr<nlohmann::json> in_place = internal::ReadJson(
      {std::string_view(padded).substr(0, text.size()), internal::kJsonReadPadding},
      limits.max_json_depth);
  if (ours.status() != in_place.status() || (ours.ok() && *ours != *in_place)) {
    Fail("JSON read in place differs from a copy", in_place.status().ToString());
  }
  const nlohmann::json theirs = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (ours.ok()) {
    if (theirs.is_discarded()) Fail("JSON reader accepts what nlohmann rejects", text);
    // -0 reads as unsigned 0 here, signed in nlohmann; they compare equal.
    if (*ours != theirs) Fail("JSON reader builds a different DOM", text);
    return;
  }
  const bool too_deep = ours.status().message().find("nested deeper") != absl::string_view::npos;
  // nlohmann ends its input at a NUL byte between tokens; the reader does not.
  const bool has_nul = text.find('\0') != std::string_view::npos;
  if (!theirs.is_discarded() && !too_deep && !has_nul) {
    Fail("JSON reader rejects what nlohmann accepts", ours.status().ToString());
  }
}

void CheckResponseRoundTrip(const InferRequest& request, const Limits& limits) {
  InferResponse response;
  response.model_name = "echo";
  response.model_version = "1";
  response.outputs = request.inputs;
  std::vector<std::string> available;
  for (const Tensor& t : request.inputs) available.push_back(t.name);
  if (!ValidateRequestedOutputs(request, available).ok()) {
    // A real server answers 400 here; encoding still must not misbehave.
    (void)EncodeInferResponse(response, request);
    return;
  }
  const EncodedBody body = EncodeInferResponse(response, request);
  const absl::StatusOr<InferResponse> parsed =
      ParseInferResponse(body.body, body.json_header_length, limits);
  if (!parsed.ok()) Fail("encoded response does not parse", parsed.status().ToString());

  // The tensors the encoder should have selected, in order.
  std::vector<Tensor> expected;
  std::vector<bool> binary;
  if (request.outputs.empty()) {
    expected = response.outputs;
    binary.assign(expected.size(), request.binary_output_default);
  } else {
    for (const RequestedOutput& out : request.outputs) {
      for (const Tensor& t : response.outputs) {
        if (t.name == out.name) {
          expected.push_back(t);
          binary.push_back(out.binary);
        }
      }
    }
  }
  CheckSameTensors(expected, parsed->outputs, binary, "response round trip");
}

void CheckRequestRoundTrip(const InferRequest& request, const Limits& limits) {
  for (const bool binary : {false, true}) {
    const EncodedBody body = EncodeInferRequest(request, binary);
    const absl::StatusOr<InferRequest> parsed =
        ParseInferRequest(body.body, body.json_header_length, limits);
    if (!parsed.ok()) Fail("re-encoded request does not parse", parsed.status().ToString());
    if (parsed->id != request.id || parsed->outputs != request.outputs ||
        parsed->binary_output_default != request.binary_output_default ||
        parsed->parameters != request.parameters) {
      Fail("request round trip", "request fields changed");
    }
    CheckSameTensors(request.inputs, parsed->inputs,
                     std::vector<bool>(request.inputs.size(), binary), "request round trip");
  }
}

}  // namespace
}  // namespace heteroaccel::protocol

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace heteroaccel::protocol;  // NOLINT(google-build-using-namespace)
  if (size == 0) return 0;
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::optional<size_t> header_length;
  if ((data[0] & 1) != 0) {
    if (body.size() < 2) return 0;
    header_length = static_cast<size_t>(data[1]) | (static_cast<size_t>(data[2]) << 8);
    body.remove_prefix(2);
  }
  Limits limits;
  limits.max_elements = 1 << 16;  // Keeps each run's allocations small.

  if (!header_length.has_value() || *header_length <= body.size()) {
    CheckJsonReaderMatchesNlohmann(body.substr(0, header_length.value_or(body.size())), limits);
  }
  const absl::StatusOr<InferRequest> request = ParseInferRequest(body, header_length, limits);
  std::string with_capacity;
  with_capacity.reserve(body.size() + kBodyReadPadding);
  with_capacity = body;
  const absl::StatusOr<InferRequest> in_place =
      ParseInferRequest(with_capacity, header_length, limits);
  if (request.status() != in_place.status() || (request.ok() && *request != *in_place)) {
    Fail("a body read in place parses differently", in_place.status().ToString());
  }
  if (!request.ok()) {
    if (request.status().code() != absl::StatusCode::kInvalidArgument ||
        request.status().message().empty()) {
      Fail("rejection is not InvalidArgument with a message", request.status().ToString());
    }
    return 0;
  }
  CheckResponseRoundTrip(*request, limits);
  CheckRequestRoundTrip(*request, limits);
  return 0;
}

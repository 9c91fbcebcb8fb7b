// Server and model metadata documents of the Open Inference Protocol
// (GET /v2 and GET /v2/models/{name}[/versions/{v}]).
//
// ModelMetadata is a plain value; ToJson/ModelMetadataFromJson convert it to
// and from the wire form. Keys the protocol does not define (labels, device
// lists, ...) travel in `extra` and sit beside the standard keys in the JSON
// object, where clients that do not know them ignore them. Pure functions,
// thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "protocol/tensor.h"

namespace heteroaccel::protocol {

struct TensorSpec {
  std::string name;
  DataType datatype = DataType::kFp32;
  // -1 marks a dynamic dimension.
  std::vector<int64_t> shape;
  // Optional; written as "description" only when non-empty.
  std::string description;

  bool operator==(const TensorSpec&) const = default;
};

struct ModelMetadata {
  std::string name;
  std::vector<std::string> versions;
  std::string platform;
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  // Extra top-level keys. Keys that collide with the standard ones
  // (name, versions, platform, inputs, outputs) are not written.
  nlohmann::json extra = nlohmann::json::object();

  bool operator==(const ModelMetadata&) const = default;
};

// {"name", "versions", "platform", "inputs": [{"name","datatype","shape"}],
//  "outputs": [...], ...extra}
nlohmann::json ToJson(const ModelMetadata& metadata);

// Inverse of ToJson. InvalidArgument names the offending field; unknown keys
// land in `extra`. "versions" and "platform" may be absent.
absl::StatusOr<ModelMetadata> ModelMetadataFromJson(const nlohmann::json& json);

// {"name", "version", "extensions": [...]}, the GET /v2 document.
nlohmann::json ServerMetadataJson(std::string_view name, std::string_view version,
                                  std::vector<std::string> extensions);

}  // namespace heteroaccel::protocol

#include "protocol/metadata.h"

#include <array>
#include <limits>
#include <utility>

#include "common/status_macros.h"
#include "protocol/internal/strings.h"

namespace heteroaccel::protocol {
namespace {

using internal::StrCat;

using json = nlohmann::json;

constexpr std::array<std::string_view, 5> kStandardKeys = {"name", "versions", "platform", "inputs",
                                                           "outputs"};

bool IsStandardKey(std::string_view key) {
  for (std::string_view k : kStandardKeys) {
    if (k == key) return true;
  }
  return false;
}

json SpecToJson(const TensorSpec& spec) {
  json j = {{"name", spec.name},
            {"datatype", std::string(DataTypeName(spec.datatype))},
            {"shape", spec.shape}};
  if (!spec.description.empty()) j["description"] = spec.description;
  return j;
}

absl::StatusOr<std::string> StringField(const json& object, std::string_view key,
                                        std::string_view owner, bool required) {
  const auto it = object.find(key);
  if (it == object.end()) {
    if (!required) return std::string();
    return absl::InvalidArgumentError(StrCat(owner, " needs a string '", key, "'"));
  }
  if (!it->is_string()) {
    return absl::InvalidArgumentError(StrCat(owner, ": '", key, "' must be a string"));
  }
  return it->get<std::string>();
}

absl::StatusOr<TensorSpec> SpecFromJson(const json& j, std::string_view role, size_t index) {
  if (!j.is_object()) {
    return absl::InvalidArgumentError(StrCat(role, " ", index, " must be a JSON object"));
  }
  TensorSpec spec;
  ASSIGN_OR_RETURN(spec.name, StringField(j, "name", StrCat(role, " ", index), true));
  const std::string owner = StrCat(role, " '", spec.name, "'");
  ASSIGN_OR_RETURN(const std::string datatype, StringField(j, "datatype", owner, true));
  absl::StatusOr<DataType> type = ParseDataType(datatype);
  if (!type.ok()) {
    return absl::InvalidArgumentError(StrCat(owner, ": ", type.status().message()));
  }
  spec.datatype = *type;
  const auto shape = j.find("shape");
  if (shape == j.end() || !shape->is_array()) {
    return absl::InvalidArgumentError(StrCat(owner, " needs a 'shape' array"));
  }
  for (const json& dim : *shape) {
    const bool ok =
        (dim.is_number_integer() && !dim.is_number_unsigned() && dim.get<int64_t>() >= -1) ||
        (dim.is_number_unsigned() &&
         dim.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
    if (!ok) {
      return absl::InvalidArgumentError(
          StrCat(owner, ": shape dimensions must be integers >= -1 (-1 is dynamic), got ",
                 dim.is_number() ? dim.dump() : StrCat("a JSON ", dim.type_name())));
    }
    spec.shape.push_back(dim.get<int64_t>());
  }
  ASSIGN_OR_RETURN(spec.description, StringField(j, "description", owner, false));
  return spec;
}

absl::StatusOr<std::vector<TensorSpec>> SpecsFromJson(const json& root, std::string_view key,
                                                      std::string_view role) {
  std::vector<TensorSpec> specs;
  const auto it = root.find(key);
  if (it == root.end()) return specs;
  if (!it->is_array()) {
    return absl::InvalidArgumentError(StrCat("model metadata '", key, "' must be an array"));
  }
  for (size_t i = 0; i < it->size(); ++i) {
    ASSIGN_OR_RETURN(TensorSpec spec, SpecFromJson((*it)[i], role, i));
    specs.push_back(std::move(spec));
  }
  return specs;
}

absl::StatusOr<ModelMetadata> FromJsonUnchecked(const json& root) {
  if (!root.is_object()) {
    return absl::InvalidArgumentError("model metadata must be a JSON object");
  }
  ModelMetadata m;
  ASSIGN_OR_RETURN(m.name, StringField(root, "name", "model metadata", true));
  ASSIGN_OR_RETURN(m.platform, StringField(root, "platform", "model metadata", false));
  if (const auto versions = root.find("versions"); versions != root.end()) {
    if (!versions->is_array()) {
      return absl::InvalidArgumentError("model metadata 'versions' must be an array of strings");
    }
    for (const json& v : *versions) {
      if (!v.is_string()) {
        return absl::InvalidArgumentError("model metadata 'versions' must be an array of strings");
      }
      m.versions.push_back(v.get<std::string>());
    }
  }
  ASSIGN_OR_RETURN(m.inputs, SpecsFromJson(root, "inputs", "input"));
  ASSIGN_OR_RETURN(m.outputs, SpecsFromJson(root, "outputs", "output"));
  for (const auto& [key, value] : root.items()) {
    if (!IsStandardKey(key)) m.extra[key] = value;
  }
  return m;
}

}  // namespace

json ToJson(const ModelMetadata& metadata) {
  json j = json::object();
  if (metadata.extra.is_object()) {
    for (const auto& [key, value] : metadata.extra.items()) {
      if (!IsStandardKey(key)) j[key] = value;
    }
  }
  j["name"] = metadata.name;
  j["versions"] = metadata.versions;
  j["platform"] = metadata.platform;
  json inputs = json::array();
  for (const TensorSpec& spec : metadata.inputs) inputs.push_back(SpecToJson(spec));
  json outputs = json::array();
  for (const TensorSpec& spec : metadata.outputs) outputs.push_back(SpecToJson(spec));
  j["inputs"] = std::move(inputs);
  j["outputs"] = std::move(outputs);
  return j;
}

absl::StatusOr<ModelMetadata> ModelMetadataFromJson(const json& json_value) {
  try {
    return FromJsonUnchecked(json_value);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(StrCat("invalid model metadata: ", e.what()));
  }
}

json ServerMetadataJson(std::string_view name, std::string_view version,
                        std::vector<std::string> extensions) {
  return json{{"name", std::string(name)},
              {"version", std::string(version)},
              {"extensions", std::move(extensions)}};
}

}  // namespace heteroaccel::protocol

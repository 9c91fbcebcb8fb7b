// The cameras file: YAML read into the same JSON the API takes, then each camera
// through ParseCamera.
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "pipeline/spec/internal/parse.h"
#include "pipeline/spec/internal/strings.h"
#include "pipeline/spec/spec.h"

namespace heteroaccel::pipeline {
namespace {

using internal::Cat;

using json = nlohmann::json;

constexpr int kMaxDepth = 32;
constexpr size_t kMaxNodes = 200000;  // after alias expansion
constexpr size_t kMaxCameras = 4096;

absl::string_view View(std::string_view s) { return {s.data(), s.size()}; }

bool IsDecimalInt(std::string_view s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  if (i >= s.size()) return false;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?  (YAML 1.2 core schema)
bool IsDecimalFloat(std::string_view s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  size_t digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exp = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++exp;
    if (exp == 0) return false;
  }
  return i == s.size();
}

json PlainScalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (IsDecimalInt(s)) {
    int64_t v = 0;
    if (absl::SimpleAtoi(View(s), &v)) return v;
  }
  if (IsDecimalFloat(s)) {
    double d = 0;
    if (absl::SimpleAtod(View(s), &d)) return d;
  }
  const std::string lower = absl::AsciiStrToLower(View(s));
  if (lower == ".inf" || lower == "+.inf") return std::numeric_limits<double>::infinity();
  if (lower == "-.inf") return -std::numeric_limits<double>::infinity();
  if (lower == ".nan") return std::numeric_limits<double>::quiet_NaN();
  return s;
}

absl::Status Convert(const YAML::Node& node, int depth, size_t& nodes, json& out) {
  if (++nodes > kMaxNodes) {
    return absl::InvalidArgumentError(
        Cat("cameras file: more than ", kMaxNodes, " values (aliases expanded)"));
  }
  if (depth > kMaxDepth) {
    return absl::InvalidArgumentError(
        Cat("cameras file: nested deeper than ", kMaxDepth, " levels"));
  }
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      out = nullptr;
      return absl::OkStatus();
    case YAML::NodeType::Scalar:
      // "!" marks a quoted scalar, "tag:yaml.org,2002:str" an explicit !!str.
      out = (node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str")
                ? json(node.Scalar())
                : PlainScalar(node.Scalar());
      return absl::OkStatus();
    case YAML::NodeType::Sequence:
      out = json::array();
      for (const YAML::Node& item : node) {
        json value;
        RETURN_IF_ERROR(Convert(item, depth + 1, nodes, value));
        out.push_back(std::move(value));
      }
      return absl::OkStatus();
    case YAML::NodeType::Map:
      out = json::object();
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) {
          return absl::InvalidArgumentError(Cat("cameras file: line ", entry.first.Mark().line + 1,
                                                ": keys must be plain names"));
        }
        const std::string& key = entry.first.Scalar();
        if (out.contains(key)) {
          return absl::InvalidArgumentError(Cat("cameras file: line ", entry.first.Mark().line + 1,
                                                ": key \"", key.substr(0, 64), "\" given twice"));
        }
        json value;
        RETURN_IF_ERROR(Convert(entry.second, depth + 1, nodes, value));
        out[key] = std::move(value);
      }
      return absl::OkStatus();
  }
  return absl::InvalidArgumentError("cameras file: unsupported YAML node");
}

}  // namespace

absl::StatusOr<json> YamlToJson(std::string_view yaml_text) {
  if (yaml_text.size() > kMaxCamerasYamlBytes) {
    return absl::InvalidArgumentError(
        Cat("cameras file: ", yaml_text.size(), " bytes; at most ", kMaxCamerasYamlBytes));
  }
  try {
    const YAML::Node root = YAML::Load(std::string(yaml_text));
    json out;
    size_t nodes = 0;
    RETURN_IF_ERROR(Convert(root, 0, nodes, out));
    return out;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        Cat("cameras file: line ", e.mark.line + 1, ", column ", e.mark.column + 1, ": ", e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(Cat("cameras file: ", e.what()));
  }
}

absl::StatusOr<std::vector<CameraSpec>> ParseCamerasYaml(std::string_view yaml_text) {
  ASSIGN_OR_RETURN(const json root, YamlToJson(yaml_text));
  std::vector<CameraSpec> cameras;
  if (root.is_null()) return cameras;
  if (!root.is_object()) {
    return absl::InvalidArgumentError("cameras file: must be a mapping with a \"cameras\" list");
  }
  for (const auto& [key, value] : root.items()) {
    if (key != "cameras") {
      return absl::InvalidArgumentError(
          Cat("cameras file: unknown key \"", key.substr(0, 64), "\""));
    }
  }
  const auto list = root.find("cameras");
  if (list == root.end() || list->is_null()) return cameras;
  if (!list->is_array()) {
    return absl::InvalidArgumentError("cameras file: key \"cameras\": must be a list of cameras");
  }
  if (list->size() > kMaxCameras) {
    return absl::InvalidArgumentError(
        Cat("cameras file: key \"cameras\": at most ", kMaxCameras, " cameras"));
  }
  std::set<std::string> ids;
  try {
    for (size_t i = 0; i < list->size(); ++i) {
      ASSIGN_OR_RETURN(CameraSpec camera,
                       internal::ParseCamera((*list)[i], Cat("cameras[", i, "]")));
      if (!ids.insert(camera.id).second) {
        return absl::InvalidArgumentError(Cat("camera \"", camera.id, "\": duplicate camera id"));
      }
      cameras.push_back(std::move(camera));
    }
  } catch (const std::exception& e) {  // defensive: nothing above should throw
    return absl::InvalidArgumentError(Cat("cameras file: ", e.what()));
  }
  return cameras;
}

}  // namespace heteroaccel::pipeline

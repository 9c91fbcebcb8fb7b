// Validation and JSON of the model store's value types (model_store.h), and
// their database encodings (metadata.h).
#include "repository/internal/metadata.h"

#include <cmath>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "repository/internal/strings.h"
#include "repository/model_store.h"

namespace heteroaccel::repository {
namespace {

using internal::Sv;

// For messages: escaped (so NUL, control bytes and broken UTF-8 stay readable
// and JSON-safe) and clipped.
std::string Quote(std::string_view s) {
  constexpr size_t kShown = 80;
  std::string shown = absl::CHexEscape(absl::string_view(s.data(), std::min(s.size(), kShown)));
  return absl::StrCat("\"", shown, s.size() > kShown ? "...\"" : "\"");
}

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

// Well-formed UTF-8 without control characters (\n and \t only where allowed).
bool IsCleanText(std::string_view s, bool allow_newlines) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == 0x7f || (c < 0x20 && !(allow_newlines && (c == '\n' || c == '\t')))) return false;
      ++i;
      continue;
    }
    size_t extra = 0;
    uint32_t code = 0;
    if ((c & 0xe0) == 0xc0) {
      extra = 1, code = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2, code = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3, code = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(s[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    const uint32_t min_code = extra == 1 ? 0x80 : extra == 2 ? 0x800 : 0x10000;
    if (code < min_code || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    i += extra + 1;
  }
  return true;
}

absl::Status CheckText(std::string_view field, std::string_view value, size_t max_bytes,
                       bool allow_newlines) {
  if (value.size() > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(Sv(field), " is ", value.size(),
                                                   " bytes; at most ", max_bytes, " are allowed"));
  }
  if (!IsCleanText(value, allow_newlines)) {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(field), " must be UTF-8 text without control characters",
                     allow_newlines ? " (other than newline and tab)" : ""));
  }
  return absl::OkStatus();
}

absl::Status CheckToken(std::string_view field, std::string_view value, size_t max_bytes,
                        std::string_view extra_chars, bool upper, std::string_view allowed) {
  bool ok = !value.empty() && value.size() <= max_bytes &&
            (upper ? IsAlnum(value[0]) : IsLowerAlnum(value[0]));
  for (char c : value) {
    if (!ok) break;
    ok = (upper ? IsAlnum(c) : IsLowerAlnum(c)) || extra_chars.find(c) != std::string_view::npos;
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(Sv(field), " ", Quote(value), " is not allowed: use ", Sv(allowed)));
}

const std::set<std::string, std::less<>>& Formats() {
  static const auto* formats = new std::set<std::string, std::less<>>{
      "onnx", "tflite", "openvino", "tensorrt", "torchscript", "other"};
  return *formats;
}

absl::StatusOr<std::string> StringField(const nlohmann::json& json, const char* key) {
  const auto it = json.find(key);
  if (it == json.end() || it->is_null()) return std::string();
  if (!it->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("metadata field \"", key, "\" must be a string"));
  }
  return it->get<std::string>();
}

absl::Status ParseLists(const nlohmann::json& json, ModelMetadata& out) {
  if (const auto it = json.find("accelerators"); it != json.end() && !it->is_null()) {
    if (!it->is_array() || it->size() > 8) {
      return absl::InvalidArgumentError(
          "metadata field \"accelerators\" must be an array of at most 8 kinds (cpu, gpu, npu, "
          "fpga, other)");
    }
    for (const nlohmann::json& kind : *it) {
      if (!kind.is_string()) {
        return absl::InvalidArgumentError("metadata field \"accelerators\" must hold strings");
      }
      ASSIGN_OR_RETURN(DeviceKind parsed, ParseKind(kind.get<std::string>()));
      out.accelerators.push_back(parsed);
    }
  }
  if (const auto it = json.find("accuracy"); it != json.end() && !it->is_null()) {
    if (!it->is_object()) {
      return absl::InvalidArgumentError(
          "metadata field \"accuracy\" must be an object of metric: number, e.g. {\"mAP\": 0.23}");
    }
    for (const auto& [metric, value] : it->items()) {
      if (!value.is_number()) {
        return absl::InvalidArgumentError(
            absl::StrCat("accuracy figure ", Quote(metric), " must be a number"));
      }
      out.accuracy[metric] = value.get<double>();
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateName(std::string_view what, std::string_view name) {
  absl::Status s = CheckToken(what, name, kMaxNameBytes, "._-", false,
                              "1 to 64 of a-z, 0-9, '.', '_' and '-', starting with a letter or "
                              "digit, without \"..\"");
  if (s.ok() && name.find("..") != std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(what), " ", Quote(name), " is not allowed: it must not contain \"..\""));
  }
  return s;
}

absl::Status ValidateSha256(std::string_view hex) {
  bool ok = hex.size() == 64;
  for (char c : hex) ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("sha256 ", Quote(hex), " is not a SHA-256: use 64 lowercase hex digits"));
}

absl::Status ValidateMetadata(const ModelMetadata& m) {
  RETURN_IF_ERROR(ValidateName("inference type", m.type));
  RETURN_IF_ERROR(ValidateName("variant name", m.variant));
  if (!m.precision.empty()) {
    RETURN_IF_ERROR(CheckToken("precision", m.precision, 16, "", false,
                               "1 to 16 of a-z and 0-9 (fp32, fp16, int8, ...)"));
  }
  if (m.accuracy.size() > kMaxAccuracyFigures) {
    return absl::InvalidArgumentError(absl::StrCat("accuracy has ", m.accuracy.size(),
                                                   " figures; at most ", kMaxAccuracyFigures,
                                                   " are allowed"));
  }
  for (const auto& [metric, value] : m.accuracy) {
    RETURN_IF_ERROR(CheckToken("accuracy metric", metric, 32, "@._-", true,
                               "1 to 32 of A-Z, a-z, 0-9, '@', '.', '_' and '-' (mAP, top1, ...)"));
    if (!std::isfinite(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("accuracy figure ", Quote(metric), " must be a finite number"));
    }
  }
  RETURN_IF_ERROR(CheckText("source", m.source, kMaxSourceBytes, false));
  RETURN_IF_ERROR(CheckText("licence", m.licence, kMaxLicenceBytes, false));
  RETURN_IF_ERROR(CheckText("notes", m.notes, kMaxNotesBytes, true));
  if (Formats().count(m.format) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "format ", Quote(m.format), " is not known: use one of ", absl::StrJoin(Formats(), ", ")));
  }
  if (!m.label.empty()) {
    RETURN_IF_ERROR(CheckToken("version label", m.label, kMaxLabelBytes, ".+_-", true,
                               "1 to 64 of A-Z, a-z, 0-9, '.', '+', '_' and '-', starting with a "
                               "letter or digit (1.2.0, 2024-05-rc1)"));
    bool digits_only = true;
    for (char c : m.label) digits_only = digits_only && c >= '0' && c <= '9';
    if (digits_only) {
      return absl::InvalidArgumentError(absl::StrCat(
          "version label ", Quote(m.label),
          " is all digits, which would read as a version number: add a letter or a dot"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ModelMetadata> ParseMetadata(const nlohmann::json& json) {
  static const std::set<std::string, std::less<>> kKnown = {
      "type",   "variant", "accelerators", "precision", "accuracy",
      "source", "licence", "format",       "notes",     "label"};
  if (!json.is_object()) return absl::InvalidArgumentError("metadata must be a JSON object");
  for (const auto& [key, value] : json.items()) {
    if (kKnown.count(key) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown metadata field ", Quote(key), ": the fields are ", absl::StrJoin(kKnown, ", ")));
    }
  }
  ModelMetadata out;
  ASSIGN_OR_RETURN(out.type, StringField(json, "type"));
  ASSIGN_OR_RETURN(out.variant, StringField(json, "variant"));
  ASSIGN_OR_RETURN(out.precision, StringField(json, "precision"));
  ASSIGN_OR_RETURN(out.source, StringField(json, "source"));
  ASSIGN_OR_RETURN(out.licence, StringField(json, "licence"));
  ASSIGN_OR_RETURN(out.format, StringField(json, "format"));
  ASSIGN_OR_RETURN(out.notes, StringField(json, "notes"));
  ASSIGN_OR_RETURN(out.label, StringField(json, "label"));
  RETURN_IF_ERROR(ParseLists(json, out));
  RETURN_IF_ERROR(ValidateMetadata(out));
  return out;
}

nlohmann::json ToJson(const ModelMetadata& m) {
  nlohmann::json accelerators = nlohmann::json::array();
  for (DeviceKind kind : m.accelerators) accelerators.push_back(std::string(KindName(kind)));
  nlohmann::json accuracy = nlohmann::json::object();
  for (const auto& [metric, value] : m.accuracy) accuracy[metric] = value;
  return {{"type", m.type},           {"variant", m.variant}, {"accelerators", accelerators},
          {"precision", m.precision}, {"accuracy", accuracy}, {"source", m.source},
          {"licence", m.licence},     {"format", m.format},   {"notes", m.notes},
          {"label", m.label}};
}

nlohmann::json ToJson(const ModelVersion& v) {
  return {{"name", v.name},
          {"version", v.version},
          {"sha256", v.sha256},
          {"size", v.size},
          {"created_ms", v.created_ms},
          {"who", v.who},
          {"metadata", ToJson(v.metadata)}};
}

std::string DeploymentTarget::ToString() const {
  return absl::StrCat(kind == TargetKind::kGroup ? "group/" : "node/", name);
}

absl::StatusOr<DeploymentTarget> DeploymentTarget::Parse(std::string_view text) {
  DeploymentTarget out;
  std::string_view rest;
  if (text.substr(0, 6) == "group/") {
    out.kind = TargetKind::kGroup, rest = text.substr(6);
  } else if (text.substr(0, 5) == "node/") {
    out.kind = TargetKind::kNode, rest = text.substr(5);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "deployment target ", Quote(text), " is not allowed: use group/<name> or node/<name>"));
  }
  RETURN_IF_ERROR(ValidateName(out.kind == TargetKind::kGroup ? "group name" : "node name", rest));
  out.name = std::string(rest);
  return out;
}

std::string_view StateName(DeploymentState state) {
  switch (state) {
    case DeploymentState::kPending:
      return "pending";
    case DeploymentState::kDeployed:
      return "deployed";
    case DeploymentState::kFailed:
      return "failed";
    case DeploymentState::kRetired:
      return "retired";
  }
  return "pending";
}

absl::StatusOr<DeploymentState> ParseState(std::string_view name) {
  for (DeploymentState s : {DeploymentState::kPending, DeploymentState::kDeployed,
                            DeploymentState::kFailed, DeploymentState::kRetired}) {
    if (StateName(s) == name) return s;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "deployment state ", Quote(name), " is not known: use pending, deployed, failed or retired"));
}

nlohmann::json ToJson(const Deployment& d) {
  return {{"target", d.target.ToString()}, {"name", d.name},
          {"version", d.version},          {"state", std::string(StateName(d.state))},
          {"updated_ms", d.updated_ms},    {"detail", d.detail}};
}

namespace internal {

std::string AcceleratorsText(const std::vector<DeviceKind>& kinds) {
  std::vector<std::string> names;
  for (DeviceKind kind : kinds) names.emplace_back(KindName(kind));
  return absl::StrJoin(names, ",");
}

std::vector<DeviceKind> ParseAcceleratorsText(const std::string& text) {
  std::vector<DeviceKind> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    if (auto kind = ParseKind(std::string_view(part.data(), part.size())); kind.ok()) {
      out.push_back(*kind);
    }
  }
  return out;
}

std::string AccuracyText(const std::map<std::string, double>& accuracy) {
  nlohmann::json json = nlohmann::json::object();
  for (const auto& [metric, value] : accuracy) json[metric] = value;
  return json.dump();
}

std::map<std::string, double> ParseAccuracyText(const std::string& text) {
  std::map<std::string, double> out;
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_object()) return out;
  for (const auto& [metric, value] : json.items()) {
    if (value.is_number()) out[metric] = value.get<double>();
  }
  return out;
}

}  // namespace internal
}  // namespace heteroaccel::repository

#include "cluster/contract.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace heteroaccel::cluster {
namespace {

using Json = nlohmann::json;

absl::Status Malformed(const std::string& where, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed heartbeat: ", where, " ", what));
}

std::string Message(const absl::Status& status) { return std::string(status.message()); }

// Reads an optional member of `object` as T; `out` keeps its value when absent.
template <typename T>
absl::Status Read(const Json& object, const char* key, const std::string& where, T& out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) return Malformed(where, absl::StrCat("\"", key, "\" must be a string"));
    out = it->template get<std::string>();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean()) return Malformed(where, absl::StrCat("\"", key, "\" must be a boolean"));
    out = it->template get<bool>();
  } else if constexpr (std::is_same_v<T, int>) {
    if (!it->is_number_integer() || it->template get<int64_t>() < 0 ||
        it->template get<int64_t>() > (1 << 30)) {
      return Malformed(where, absl::StrCat("\"", key, "\" must be a non-negative integer"));
    }
    out = it->template get<int>();
  } else {
    static_assert(std::is_same_v<T, std::vector<std::string>>);
    if (!it->is_array()) return Malformed(where, absl::StrCat("\"", key, "\" must be an array"));
    out.clear();
    for (const Json& s : *it) {
      if (!s.is_string()) {
        return Malformed(where, absl::StrCat("\"", key, "\" must hold strings"));
      }
      out.push_back(s.get<std::string>());
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<DeviceReport> ParseDevice(const Json& d, size_t index) {
  const std::string where = absl::StrCat("devices[", index, "]");
  if (!d.is_object()) return Malformed(where, "must be an object");
  DeviceReport out;
  RETURN_IF_ERROR(Read(d, "id", where, out.id));
  if (out.id.empty()) return Malformed(where, "needs a non-empty \"id\"");
  std::string kind;
  RETURN_IF_ERROR(Read(d, "kind", where, kind));
  auto parsed_kind = ParseKind(kind);
  if (!parsed_kind.ok()) return Malformed(where, Message(parsed_kind.status()));
  out.kind = *parsed_kind;
  RETURN_IF_ERROR(Read(d, "name", where, out.name));
  RETURN_IF_ERROR(Read(d, "emulated", where, out.emulated));
  RETURN_IF_ERROR(Read(d, "slots", where, out.slots));
  if (out.slots < 1) return Malformed(where, "\"slots\" must be at least 1");
  RETURN_IF_ERROR(Read(d, "warm", where, out.warm));
  RETURN_IF_ERROR(Read(d, "queue_depth", where, out.queue_depth));
  RETURN_IF_ERROR(Read(d, "allocated", where, out.allocated));
  if (auto it = d.find("busy_seconds"); it != d.end() && !it->is_null()) {
    if (!it->is_number() || it->get<double>() < 0) {
      return Malformed(where, "\"busy_seconds\" must be a number >= 0");
    }
    out.busy_seconds = it->get<double>();
  }
  RETURN_IF_ERROR(Read(d, "healthy", where, out.healthy));
  RETURN_IF_ERROR(Read(d, "pod_assigned", where, out.pod_assigned));
  if (auto it = d.find("numa_node"); it != d.end() && !it->is_null()) {
    int numa = 0;
    RETURN_IF_ERROR(Read(d, "numa_node", where, numa));
    out.numa_node = numa;
  }
  std::vector<std::string> models;
  RETURN_IF_ERROR(Read(d, "models", where, models));
  for (const std::string& m : models) {
    auto key = VariantKey::Parse(m);
    if (!key.ok()) return Malformed(where, Message(key.status()));
    out.models.push_back(std::move(*key));
  }
  if (auto it = d.find("service_ms"); it != d.end() && !it->is_null()) {
    if (!it->is_object()) return Malformed(where, "\"service_ms\" must be an object");
    for (const auto& [name, ms] : it->items()) {
      auto key = VariantKey::Parse(name);
      if (!key.ok()) return Malformed(where, Message(key.status()));
      if (!ms.is_number() || ms.get<double>() < 0) {
        return Malformed(where, absl::StrCat("service_ms of ", name, " must be a number >= 0"));
      }
      out.service_ms[std::move(*key)] = ms.get<double>();
    }
  }
  return out;
}

absl::StatusOr<TypeInfo> ParseTypeInfo(const std::string& type, const Json& t) {
  const std::string where = absl::StrCat("model_info.", type);
  if (!t.is_object()) return Malformed(where, "must be an object");
  TypeInfo out;
  RETURN_IF_ERROR(Read(t, "keypoint_names", where, out.keypoint_names));
  RETURN_IF_ERROR(Read(t, "labels", where, out.labels));
  if (auto it = t.find("skeleton"); it != t.end() && !it->is_null()) {
    if (!it->is_array()) return Malformed(where, "\"skeleton\" must be an array of pairs");
    for (const Json& pair : *it) {
      if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number_integer() ||
          !pair[1].is_number_integer()) {
        return Malformed(where, "\"skeleton\" must hold [a, b] index pairs");
      }
      out.skeleton.emplace_back(pair[0].get<int>(), pair[1].get<int>());
    }
  }
  if (auto it = t.find("variants"); it != t.end() && !it->is_null()) {
    if (!it->is_object()) return Malformed(where, "\"variants\" must be an object");
    for (const auto& [name, v] : it->items()) {
      const std::string vwhere = absl::StrCat(where, ".variants.", name);
      if (!v.is_object()) return Malformed(vwhere, "must be an object");
      VariantInfo info;
      RETURN_IF_ERROR(Read(v, "description", vwhere, info.description));
      RETURN_IF_ERROR(Read(v, "precision", vwhere, info.precision));
      RETURN_IF_ERROR(Read(v, "accuracy", vwhere, info.accuracy));
      RETURN_IF_ERROR(Read(v, "opencl", vwhere, info.opencl));
      out.variants[name] = std::move(info);
    }
  }
  return out;
}

}  // namespace

std::string VariantKey::ToString() const { return absl::StrCat(type, "/", variant); }

absl::StatusOr<VariantKey> VariantKey::Parse(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("variant key \"", std::string(text), "\" is not \"type/variant\""));
  }
  return VariantKey{std::string(text.substr(0, slash)), std::string(text.substr(slash + 1))};
}

nlohmann::json ToJson(const VariantInfo& info) {
  return {{"description", info.description},
          {"precision", info.precision},
          {"accuracy", info.accuracy},
          {"opencl", info.opencl}};
}

nlohmann::json ToJson(const TypeInfo& info) {
  Json variants = Json::object();
  for (const auto& [name, v] : info.variants) variants[name] = ToJson(v);
  Json skeleton = Json::array();
  for (const auto& [a, b] : info.skeleton) skeleton.push_back({a, b});
  return {{"keypoint_names", info.keypoint_names},
          {"skeleton", std::move(skeleton)},
          {"labels", info.labels},
          {"variants", std::move(variants)}};
}

nlohmann::json ToJson(const NodeReport& report) {
  Json devices = Json::array();
  for (const DeviceReport& d : report.devices) {
    Json models = Json::array();
    for (const VariantKey& m : d.models) models.push_back(m.ToString());
    Json service = Json::object();
    for (const auto& [key, ms] : d.service_ms) service[key.ToString()] = ms;
    devices.push_back({{"id", d.id},
                       {"kind", KindName(d.kind)},
                       {"name", d.name},
                       {"emulated", d.emulated},
                       {"slots", d.slots},
                       {"warm", d.warm},
                       {"models", std::move(models)},
                       {"service_ms", std::move(service)},
                       {"queue_depth", d.queue_depth},
                       {"allocated", d.allocated},
                       {"busy_seconds", d.busy_seconds},
                       {"healthy", d.healthy},
                       {"pod_assigned", d.pod_assigned}});
    if (d.numa_node) devices.back()["numa_node"] = *d.numa_node;
  }
  Json out = {{"node", report.node},
              {"url", report.url},
              {"ready", report.ready},
              {"devices", std::move(devices)}};
  if (!report.group.empty()) out["group"] = report.group;
  if (!report.labels.empty()) out["labels"] = report.labels;
  Json stats = Json::object();
  if (report.stats.cpu_utilisation) stats["cpu_utilisation"] = *report.stats.cpu_utilisation;
  if (report.stats.memory_total_bytes) stats["memory_total_bytes"] = *report.stats.memory_total_bytes;
  if (report.stats.memory_available_bytes) {
    stats["memory_available_bytes"] = *report.stats.memory_available_bytes;
  }
  if (report.stats.temperature_celsius) {
    stats["temperature_celsius"] = *report.stats.temperature_celsius;
  }
  if (!stats.empty()) out["stats"] = std::move(stats);
  if (report.model_info) {
    Json info = Json::object();
    for (const auto& [type, t] : *report.model_info) info[type] = ToJson(t);
    out["model_info"] = std::move(info);
  }
  return out;
}

absl::Status ValidateGroupName(std::string_view group, std::string_view what) {
  const bool ok = group.size() <= 63 && std::all_of(group.begin(), group.end(), [](char c) {
                    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
                           c == '_' || c == '-';
                  });
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      std::string(what), " '", std::string(group.substr(0, 80)),
      "' must be at most 63 letters, digits, '.', '_' or '-'"));
}

absl::Status ValidateLabel(std::string_view key, std::string_view value) {
  const bool key_ok =
      !key.empty() && key.size() <= 63 && absl::ascii_isalnum(static_cast<unsigned char>(key[0])) &&
      std::all_of(key.begin(), key.end(), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
               c == '/' || c == '-';
      });
  if (!key_ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "label key ", Json(std::string(key)).dump(-1, ' ', false, Json::error_handler_t::replace),
        " must be 1 to 63 letters, digits, '.', '_', '/' or '-', starting with a letter or digit"));
  }
  const bool value_ok = value.size() <= 253 && std::all_of(value.begin(), value.end(), [](char c) {
                          return c >= 0x20 && c < 0x7f;
                        });
  if (!value_ok) {
    return absl::InvalidArgumentError(absl::StrCat("label ", std::string(key),
                                                   ": the value must be at most 253 printable "
                                                   "ASCII characters"));
  }
  return absl::OkStatus();
}

absl::StatusOr<NodeReport> ParseNodeReport(const nlohmann::json& json) {
  if (!json.is_object()) return Malformed("the report", "must be a JSON object");
  NodeReport out;
  RETURN_IF_ERROR(Read(json, "node", "the report", out.node));
  RETURN_IF_ERROR(Read(json, "url", "the report", out.url));
  if (out.node.empty() || out.url.empty()) {
    return absl::InvalidArgumentError(
        "a heartbeat needs \"node\" and \"url\" strings and a \"devices\" array");
  }
  RETURN_IF_ERROR(Read(json, "ready", "the report", out.ready));
  RETURN_IF_ERROR(Read(json, "group", "the report", out.group));
  RETURN_IF_ERROR(ValidateGroupName(out.group));
  if (auto labels = json.find("labels"); labels != json.end() && !labels->is_null()) {
    if (!labels->is_object()) return Malformed("labels", "must be an object of strings");
    if (labels->size() > kMaxLabels) {
      return Malformed("labels", absl::StrCat("are at most ", kMaxLabels));
    }
    for (const auto& [key, value] : labels->items()) {
      if (!value.is_string()) return Malformed("labels", "must be an object of strings");
      RETURN_IF_ERROR(ValidateLabel(key, value.get<std::string>()));
      out.labels[key] = value.get<std::string>();
    }
  }
  if (auto stats = json.find("stats"); stats != json.end() && !stats->is_null()) {
    if (!stats->is_object()) return Malformed("stats", "must be an object");
    for (auto [key, field] : {std::pair{"cpu_utilisation", &out.stats.cpu_utilisation},
                              std::pair{"memory_total_bytes", &out.stats.memory_total_bytes},
                              std::pair{"memory_available_bytes", &out.stats.memory_available_bytes},
                              std::pair{"temperature_celsius", &out.stats.temperature_celsius}}) {
      auto it = stats->find(key);
      if (it == stats->end() || it->is_null()) continue;
      if (!it->is_number()) return Malformed("stats", absl::StrCat("\"", key, "\" must be a number"));
      *field = it->get<double>();
    }
  }
  auto devices = json.find("devices");
  if (devices == json.end() || !devices->is_array()) {
    return absl::InvalidArgumentError(
        "a heartbeat needs \"node\" and \"url\" strings and a \"devices\" array");
  }
  for (size_t i = 0; i < devices->size(); ++i) {
    ASSIGN_OR_RETURN(DeviceReport d, ParseDevice((*devices)[i], i));
    for (const DeviceReport& seen : out.devices) {
      if (seen.id == d.id)
        return Malformed("devices", absl::StrCat("repeat the id \"", d.id, "\""));
    }
    out.devices.push_back(std::move(d));
  }
  if (auto info = json.find("model_info"); info != json.end() && !info->is_null()) {
    if (!info->is_object()) return Malformed("model_info", "must be an object");
    std::map<std::string, TypeInfo> types;
    for (const auto& [type, t] : info->items()) {
      ASSIGN_OR_RETURN(types[type], ParseTypeInfo(type, t));
    }
    out.model_info = std::move(types);
  }
  return out;
}

absl::StatusOr<NodeReport> ParseNodeReportBody(std::string_view body) {
  const Json json = Json::parse(body, nullptr, false);
  if (json.is_discarded()) return absl::InvalidArgumentError("a heartbeat must be a JSON object");
  return ParseNodeReport(json);
}

nlohmann::json ToJson(const HeartbeatReply& reply) {
  return {{"ok", true}, {"send_model_info", reply.send_model_info}};
}

HeartbeatReply ParseHeartbeatReply(std::string_view body) {
  const Json json = Json::parse(body, nullptr, false);
  HeartbeatReply reply;
  reply.send_model_info = !json.is_object() || !json.contains("send_model_info") ||
                          !json["send_model_info"].is_boolean() ||
                          json["send_model_info"].get<bool>();
  return reply;
}

}  // namespace heteroaccel::cluster

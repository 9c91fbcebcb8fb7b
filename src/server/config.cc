#include "server/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace heteroaccel::server {
namespace {

bool ValidName(const std::string& name) {
  static const std::regex kName("[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}");
  return std::regex_match(name, kName);
}

bool ValidKind(const std::string& kind) {
  return kind == "cpu" || kind == "gpu" || kind == "npu" || kind == "fpga" || kind == "other";
}

absl::Status CheckType(const std::string& type, const InferenceType& t) {
  if (!ValidName(type)) {
    return absl::InvalidArgumentError(
        absl::StrCat("registry type '", type, "' is not a valid name"));
  }
  for (const std::string& kind : t.disabled) {
    if (!ValidKind(kind)) {
      return absl::InvalidArgumentError(
          absl::StrCat("registry '", type, "': unknown kind '", kind,
                       "' in disabled (use cpu, gpu, npu, fpga, other)"));
    }
  }
  if (!t.pin.empty() && !ValidKind(t.pin)) {
    return absl::InvalidArgumentError(absl::StrCat("registry '", type, "': unknown kind '", t.pin,
                                                   "' in pin (use cpu, gpu, npu, fpga, other)"));
  }
  for (const auto& [kind, variant] : t.variants) {
    if (!ValidKind(kind)) {
      return absl::InvalidArgumentError(absl::StrCat("registry '", type, "': unknown kind '", kind,
                                                     "' (use cpu, gpu, npu, fpga, other)"));
    }
    if (!ValidName(variant)) {
      return absl::InvalidArgumentError(
          absl::StrCat("registry '", type, "': variant '", variant, "' is not a valid name"));
    }
  }
  return absl::OkStatus();
}

absl::Status BadDegrade(const std::string& where, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(where, "degrade", what));
}

// Values a YAML block and a JSON one share.
absl::Status CheckDegrade(const std::string& where, const DegradePolicy& d) {
  if (!(d.floor >= 0 && d.floor <= 1)) {
    return BadDegrade(where, ".floor must be a number in [0, 1]");
  }
  if (d.variants.empty()) {
    return BadDegrade(where, ".variants must list at least one variant with its accuracy");
  }
  for (const auto& [variant, accuracy] : d.variants) {
    if (!ValidName(variant)) {
      return BadDegrade(where, absl::StrCat(".variants: '", variant, "' is not a valid name"));
    }
    if (!(accuracy >= 0 && accuracy <= 1)) {
      return BadDegrade(where,
                        absl::StrCat(".variants.", variant, " must be an accuracy in [0, 1]"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<DegradePolicy> DegradeFromYaml(const YAML::Node& node, const std::string& where) {
  if (!node.IsMap()) {
    return BadDegrade(where, " must be a mapping: {floor: 0.8, variants: {name: 0.86}}");
  }
  for (const auto& entry : node) {
    const std::string key = entry.first.as<std::string>();
    if (key != "floor" && key != "variants") {
      return BadDegrade(where, absl::StrCat(": unknown key '", key, "' (use floor, variants)"));
    }
  }
  // JSON is the one format checked in detail; YAML scalars become numbers or strings.
  nlohmann::json json = nlohmann::json::object();
  auto number = [](const YAML::Node& n) -> nlohmann::json {
    double value = 0;
    if (n.IsScalar() && YAML::convert<double>::decode(n, value)) return value;
    return n.IsScalar() ? nlohmann::json(n.as<std::string>()) : nlohmann::json();
  };
  if (node["floor"]) json["floor"] = number(node["floor"]);
  if (const YAML::Node variants = node["variants"]) {
    if (!variants.IsMap()) return BadDegrade(where, ".variants must map variant -> accuracy");
    nlohmann::json list = nlohmann::json::array();
    for (const auto& v : variants) list.push_back({v.first.as<std::string>(), number(v.second)});
    json["variants"] = std::move(list);
  }
  return DegradeFromJson(json, where);
}

absl::StatusOr<ServerConfig> ParseRoot(const YAML::Node& root, const std::string& origin) {
  ServerConfig c;
  if (!root.IsMap()) return absl::InvalidArgumentError("the top level must be a mapping");
  static const char* const kKeys[] = {"listen",
                                      "grpc_listen",
                                      "policy",
                                      "queue_capacity",
                                      "pipeline_depth",
                                      "node_timeout_ms",
                                      "clock_offset_alert_seconds",
                                      "forward_timeout_ms",
                                      "max_attempts",
                                      "max_body_bytes",
                                      "io_threads",
                                      "max_connections",
                                      "header_timeout_ms",
                                      "keepalive_timeout_ms",
                                      "max_inflight_body_bytes",
                                      "cluster_token_file",
                                      "admin_token_file",
                                      "viewer_token_file",
                                      "metrics_token_file",
                                      "state_dir",
                                      "prometheus",
                                      "cameras",
                                      "mqtt",
                                      "mqtt_prefix",
                                      "events_max_age",
                                      "events_max_count",
                                      "stream_interval_ms",
                                      "kind_preference",
                                      "static_kinds",
                                      "registry"};
  for (const auto& entry : root) {
    const std::string key = entry.first.as<std::string>();
    if (std::find(std::begin(kKeys), std::end(kKeys), key) == std::end(kKeys)) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown key '", key, "'; known keys: ", absl::StrJoin(kKeys, ", ")));
    }
  }
  auto get = [&](const char* key, auto& field) {
    if (root[key]) field = root[key].as<std::decay_t<decltype(field)>>();
  };
  get("listen", c.listen);
  get("grpc_listen", c.grpc_listen);
  get("policy", c.policy);
  get("queue_capacity", c.queue_capacity);
  get("pipeline_depth", c.pipeline_depth);
  get("node_timeout_ms", c.node_timeout_ms);
  get("clock_offset_alert_seconds", c.clock_offset_alert_seconds);
  if (!(c.clock_offset_alert_seconds > 0 && c.clock_offset_alert_seconds <= 3600)) {
    return absl::InvalidArgumentError("clock_offset_alert_seconds must be above 0 and at most 3600");
  }
  get("forward_timeout_ms", c.forward_timeout_ms);
  get("max_attempts", c.max_attempts);
  get("max_body_bytes", c.max_body_bytes);
  get("io_threads", c.io_threads);
  get("max_connections", c.max_connections);
  get("header_timeout_ms", c.header_timeout_ms);
  get("keepalive_timeout_ms", c.keepalive_timeout_ms);
  get("max_inflight_body_bytes", c.max_inflight_body_bytes);
  for (auto [key, token] : {std::pair{"cluster_token_file", &c.cluster_token},
                            std::pair{"admin_token_file", &c.admin_token},
                            std::pair{"viewer_token_file", &c.viewer_token},
                            std::pair{"metrics_token_file", &c.metrics_token}}) {
    if (!root[key]) continue;
    const std::string path = root[key].as<std::string>();
    std::ifstream in(path);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", key, " ", path));
    std::getline(in, *token);
  }
  get("state_dir", c.state_dir);
  get("prometheus", c.prometheus);
  get("cameras", c.cameras_file);
  get("mqtt", c.mqtt);
  get("mqtt_prefix", c.mqtt_prefix);
  get("events_max_count", c.events_max_count);
  if (root["events_max_age"]) {
    ASSIGN_OR_RETURN(c.events_max_age_ms, ParseAgeMs(root["events_max_age"].as<std::string>()));
  }
  get("stream_interval_ms", c.stream_interval_ms);
  if (c.stream_interval_ms < 50) {
    return absl::InvalidArgumentError("stream_interval_ms must be >= 50");
  }
  if (root["kind_preference"]) {
    c.kind_preference = root["kind_preference"].as<std::vector<std::string>>();
  }
  if (root["static_kinds"])
    c.static_kinds = root["static_kinds"].as<std::map<std::string, std::string>>();
  if (const YAML::Node registry = root["registry"]) {
    for (const auto& entry : registry) {
      InferenceType t;
      const std::string type = entry.first.as<std::string>();
      if (entry.second["description"])
        t.description = entry.second["description"].as<std::string>();
      if (entry.second["variants"]) {
        t.variants = entry.second["variants"].as<std::map<std::string, std::string>>();
      }
      if (entry.second["disabled"]) {
        const auto kinds = entry.second["disabled"].as<std::vector<std::string>>();
        t.disabled.insert(kinds.begin(), kinds.end());
      }
      if (entry.second["pin"]) t.pin = entry.second["pin"].as<std::string>();
      if (entry.second["degrade"]) {
        ASSIGN_OR_RETURN(t.degrade, DegradeFromYaml(entry.second["degrade"],
                                                    absl::StrCat("registry '", type, "': ")));
      }
      RETURN_IF_ERROR(CheckType(type, t));
      c.registry[type] = std::move(t);
    }
  }
  if (c.queue_capacity < 1 || c.pipeline_depth < 0 || c.node_timeout_ms < 50 ||
      c.max_attempts < 1 || c.forward_timeout_ms < 1) {
    return absl::InvalidArgumentError(
        "queue_capacity and max_attempts must be >= 1, pipeline_depth >= 0, node_timeout_ms >= 50");
  }
  if (c.header_timeout_ms < 1 || c.keepalive_timeout_ms < 1) {
    return absl::InvalidArgumentError("header_timeout_ms and keepalive_timeout_ms must be >= 1");
  }
  (void)origin;
  return c;
}

}  // namespace

absl::StatusOr<int64_t> ParseAgeMs(const std::string& text) {
  static const std::regex kAge("([0-9]{1,9})(ms|s|m|h|d)?");
  std::smatch m;
  if (!std::regex_match(text, m, kAge)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "events_max_age: '", text, "' is not a duration (a number with s, m, h or d: 30d)"));
  }
  const int64_t n = std::stoll(m[1].str());
  const std::string unit = m[2].str();
  const int64_t ms = unit == "ms" ? 1 : unit == "m" ? 60'000 : unit == "h" ? 3'600'000
                     : unit == "d" ? 86'400'000 : 1000;
  return n * ms;
}

absl::StatusOr<ServerConfig> ParseServerConfig(const std::string& yaml, const std::string& origin) {
  try {
    absl::StatusOr<ServerConfig> c = ParseRoot(YAML::Load(yaml), origin);
    if (!c.ok())
      return absl::Status(c.status().code(), absl::StrCat(origin, ": ", c.status().message()));
    return c;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": ", e.what()));
  }
}

absl::StatusOr<ServerConfig> LoadServerConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read config file ", path));
  std::stringstream text;
  text << in.rdbuf();
  return ParseServerConfig(text.str(), path);
}

nlohmann::json RegistryToJson(const std::map<std::string, InferenceType>& registry) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [type, t] : registry) {
    out[type] = {{"description", t.description}, {"variants", t.variants}};
    if (!t.disabled.empty()) out[type]["disabled"] = t.disabled;
    if (!t.pin.empty()) out[type]["pin"] = t.pin;
    if (t.degrade) out[type]["degrade"] = DegradeToJson(*t.degrade);
  }
  return out;
}

nlohmann::json DegradeToJson(const DegradePolicy& degrade) {
  nlohmann::json variants = nlohmann::json::object();
  for (const auto& [variant, accuracy] : degrade.variants) variants[variant] = accuracy;
  return {{"floor", degrade.floor}, {"variants", std::move(variants)}};
}

absl::StatusOr<DegradePolicy> DegradeFromJson(const nlohmann::json& json,
                                              const std::string& where) {
  if (!json.is_object()) {
    return BadDegrade(where, " must be an object: {\"floor\": 0.8, \"variants\": {...}}");
  }
  DegradePolicy d;
  for (const auto& [key, value] : json.items()) {
    if (key == "floor") {
      if (!value.is_number()) return BadDegrade(where, ".floor must be a number in [0, 1]");
      d.floor = value.get<double>();
    } else if (key == "variants") {
      // An object (JSON) or a list of [name, accuracy] pairs (YAML, in its order).
      if (value.is_object()) {
        for (const auto& [variant, accuracy] : value.items()) {
          if (!accuracy.is_number()) {
            return BadDegrade(
                where, absl::StrCat(".variants.", variant, " must be an accuracy in [0, 1]"));
          }
          d.variants.emplace_back(variant, accuracy.get<double>());
        }
      } else if (value.is_array()) {
        for (const nlohmann::json& pair : value) {
          const std::string variant =
              pair.size() == 2 && pair[0].is_string() ? pair[0].get<std::string>() : "?";
          if (pair.size() != 2 || !pair[1].is_number()) {
            return BadDegrade(
                where, absl::StrCat(".variants.", variant, " must be an accuracy in [0, 1]"));
          }
          d.variants.emplace_back(variant, pair[1].get<double>());
        }
      } else {
        return BadDegrade(where, ".variants must map variant -> accuracy");
      }
    } else {
      return BadDegrade(where, absl::StrCat(": unknown key '", key, "' (use floor, variants)"));
    }
  }
  if (!json.contains("floor")) return BadDegrade(where, ".floor is required");
  RETURN_IF_ERROR(CheckDegrade(where, d));
  return d;
}

absl::StatusOr<std::map<std::string, InferenceType>> RegistryFromJson(const nlohmann::json& json) {
  if (!json.is_object()) return absl::InvalidArgumentError("the registry must be a JSON object");
  std::map<std::string, InferenceType> registry;
  try {
    for (const auto& [type, value] : json.items()) {
      InferenceType t;
      t.description = value.value("description", "");
      t.variants = value.value("variants", std::map<std::string, std::string>{});
      t.disabled = value.value("disabled", std::set<std::string>{});
      t.pin = value.value("pin", "");
      if (auto degrade = value.find("degrade"); degrade != value.end() && !degrade->is_null()) {
        ASSIGN_OR_RETURN(t.degrade,
                         DegradeFromJson(*degrade, absl::StrCat("registry '", type, "': ")));
      }
      RETURN_IF_ERROR(CheckType(type, t));
      registry[type] = std::move(t);
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("malformed registry: ", e.what()));
  }
  return registry;
}

}  // namespace heteroaccel::server

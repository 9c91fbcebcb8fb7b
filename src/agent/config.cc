#include "agent/config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace heteroaccel::agent {
namespace {

// The types an emulated device runs: a list of inference type names.
absl::StatusOr<std::vector<std::string>> ParseTypes(const YAML::Node& node,
                                                    const std::string& where) {
  if (!node.IsSequence()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "types must be a list of inference types, e.g. [face, pose]"));
  }
  std::vector<std::string> types;
  for (size_t i = 0; i < node.size(); ++i) {
    if (!node[i].IsScalar() || node[i].as<std::string>().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "types[", i, "] must be an inference type name"));
    }
    types.push_back(node[i].as<std::string>());
  }
  return types;
}

// `where` prefixes the key in messages: "devices[2]." or "cpu.".
absl::StatusOr<runtime::Emulation> ParseEmulation(const YAML::Node& node,
                                                  const std::string& where) {
  runtime::Emulation emulation;
  if (const YAML::Node latency = node["latency_ms"]) {
    if (!latency.IsMap()) {
      return absl::InvalidArgumentError("latency_ms must map inference types to milliseconds");
    }
    for (const auto& entry : latency) {
      const double ms = entry.second.as<double>();
      if (ms < 0) return absl::InvalidArgumentError("latency_ms values must be >= 0");
      emulation.latency_seconds[entry.first.as<std::string>()] = ms / 1e3;
    }
  }
  if (const YAML::Node latency = node["variant_latency_ms"]) {
    if (!latency.IsMap()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "variant_latency_ms must map variant names to milliseconds"));
    }
    for (const auto& entry : latency) {
      double ms = -1;
      if (!entry.second.IsScalar() || !YAML::convert<double>::decode(entry.second, ms) || ms < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, "variant_latency_ms.", entry.first.as<std::string>(), " must be >= 0 (ms)"));
      }
      emulation.variant_latency_seconds[entry.first.as<std::string>()] = ms / 1e3;
    }
  }
  if (node["default_latency_ms"]) {
    emulation.default_latency_seconds = node["default_latency_ms"].as<double>() / 1e3;
  }
  if (node["reuse_results"]) emulation.reuse_results = node["reuse_results"].as<bool>();
  if (const YAML::Node sigma = node["latency_sigma"]) {
    double value = -1;
    if (sigma.IsScalar() && YAML::convert<double>::decode(sigma, value) && value >= 0 &&
        value <= runtime::kMaxLatencySigma) {
      emulation.sigma = value;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          where, "latency_sigma must be a number from 0 (every request takes ", "latency_ms) to ",
          runtime::kMaxLatencySigma, " (the lognormal shape of the service time), e.g. 0.25"));
    }
  }
  if (const YAML::Node types = node["types"]) {
    ASSIGN_OR_RETURN(emulation.types, ParseTypes(types, where));
  }
  return emulation;
}

absl::StatusOr<EmulatedDeviceConfig> ParseDevice(const YAML::Node& node, size_t index) {
  EmulatedDeviceConfig d;
  d.id = node["id"] ? node["id"].as<std::string>() : "";
  static const std::regex kId("[a-zA-Z0-9][a-zA-Z0-9_.:-]{0,62}");
  if (!std::regex_match(d.id, kId)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "devices[", index, "].id '", d.id, "' must be 1-63 letters, digits, '_', '.', ':' or '-'"));
  }
  d.kind = node["kind"] ? node["kind"].as<std::string>() : "";
  RETURN_IF_ERROR(devices::ParseKind(d.kind).status());
  d.name = node["name"] ? node["name"].as<std::string>() : d.id;
  d.slots = node["slots"] ? node["slots"].as<int>() : 1;
  if (d.slots < 1 || d.slots > 256) {
    return absl::InvalidArgumentError(absl::StrCat("devices[", index, "].slots must be 1..256"));
  }
  ASSIGN_OR_RETURN(d.emulation, ParseEmulation(node, absl::StrCat("devices[", index, "].")));
  return d;
}

// `server:` is one URL or a list of them (every server replica); a list joins
// into the comma-separated form the --server flag takes.
absl::StatusOr<std::string> ParseServer(const YAML::Node& node) {
  if (node.IsScalar()) return node.as<std::string>();
  if (!node.IsSequence()) {
    return absl::InvalidArgumentError("server must be a URL or a list of URLs");
  }
  std::vector<std::string> urls;
  for (size_t i = 0; i < node.size(); ++i) {
    if (!node[i].IsScalar()) {
      return absl::InvalidArgumentError(absl::StrCat("server[", i, "] must be a URL"));
    }
    std::string url = node[i].as<std::string>();
    if (url.find(',') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("server[", i, "] '", url, "' must be one URL (no commas)"));
    }
    urls.push_back(std::move(url));
  }
  return absl::StrJoin(urls, ",");
}

absl::StatusOr<AgentConfig> ParseRoot(const YAML::Node& root) {
  AgentConfig config;
  if (!root.IsMap()) return absl::InvalidArgumentError("the top level must be a mapping");
  if (root["node"]) config.node = root["node"].as<std::string>();
  if (root["group"]) {
    config.group = root["group"].as<std::string>();
    RETURN_IF_ERROR(ValidateGroupName(config.group));
  }
  if (const YAML::Node labels = root["labels"]) {
    if (!labels.IsMap()) return absl::InvalidArgumentError("labels must be a mapping of strings");
    for (const auto& entry : labels) {
      const std::string key = entry.first.as<std::string>();
      const std::string value = entry.second.as<std::string>();
      RETURN_IF_ERROR(cluster::ValidateLabel(key, value));
      config.labels[key] = value;
    }
    if (config.labels.size() > cluster::kMaxLabels) {
      return absl::InvalidArgumentError(
          absl::StrCat("labels: at most ", cluster::kMaxLabels, " per node"));
    }
  }
  if (const YAML::Node server = root["server"]) {
    ASSIGN_OR_RETURN(config.server, ParseServer(server));
  }
  if (root["cluster_token_file"]) {
    config.cluster_token_file = root["cluster_token_file"].as<std::string>();
  }
  if (root["device_plugin_dir"]) {
    config.device_plugin_dir = root["device_plugin_dir"].as<std::string>();
  }
  if (root["allow_time_sync"]) config.allow_time_sync = root["allow_time_sync"].as<bool>();
  if (root["allow_package_actions"]) {
    config.allow_package_actions = root["allow_package_actions"].as<bool>();
  }
  if (root["opencl"]) config.opencl = root["opencl"].as<bool>();
  if (const YAML::Node cpu = root["cpu"]) {
    if (cpu["slots"]) config.cpu_slots = cpu["slots"].as<int>();
    if (cpu["emulated"] && cpu["emulated"].as<bool>()) {
      ASSIGN_OR_RETURN(config.cpu_emulation, ParseEmulation(cpu, "cpu."));
    }
  }
  if (const YAML::Node list = root["devices"]) {
    if (!list.IsSequence()) return absl::InvalidArgumentError("devices must be a list");
    for (size_t i = 0; i < list.size(); ++i) {
      ASSIGN_OR_RETURN(EmulatedDeviceConfig d, ParseDevice(list[i], i));
      for (const EmulatedDeviceConfig& other : config.devices) {
        if (other.id == d.id) {
          return absl::InvalidArgumentError(absl::StrCat("device id '", d.id, "' appears twice"));
        }
      }
      config.devices.push_back(std::move(d));
    }
  }
  return config;
}

}  // namespace


absl::StatusOr<AgentConfig> ParseAgentConfig(const std::string& yaml, const std::string& origin) {
  try {
    absl::StatusOr<AgentConfig> config = ParseRoot(YAML::Load(yaml));
    if (!config.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(origin, ": ", config.status().message()));
    }
    return config;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": ", e.what()));
  }
}

absl::StatusOr<AgentConfig> LoadAgentConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read config file ", path));
  std::stringstream text;
  text << in.rdbuf();
  return ParseAgentConfig(text.str(), path);
}

absl::StatusOr<runtime::RuntimeDevice> EmulatedDevice(const EmulatedDeviceConfig& config) {
  runtime::RuntimeDevice d;
  ASSIGN_OR_RETURN(d.device.kind, devices::ParseKind(config.kind));
  d.device.id = config.id;
  d.device.name = config.name;
  if (d.device.name.find("(emulated)") == std::string::npos) d.device.name += " (emulated)";
  d.device.vendor = "emulated";
  d.device.source = "config";
  d.device.emulated = true;
  d.target = inference::Target::kCpu;
  d.slots = config.slots;
  d.emulation = config.emulation;
  return d;
}

}  // namespace heteroaccel::agent

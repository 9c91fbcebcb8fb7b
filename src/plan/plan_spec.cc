#include "plan/plan_spec.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "loadgen/bench.h"
#include "sim/scenario.h"

namespace heteroaccel::plan {
namespace {

// Keys a plan shares with a sim scenario (sim::ParseScenario reads them).
constexpr const char* kScenarioKeys[] = {"name",           "seed",
                                         "policy",         "rtt_ms",
                                         "client_rtt_ms",  "service_overhead_ms",
                                         "queue_capacity", "max_attempts",
                                         "cameras"};

absl::Status Bad(const std::string& key, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(key, ": ", what));
}

absl::StatusOr<double> ReadNumber(const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar()) return Bad(key, "must be a number");
  double value = 0;
  if (!YAML::convert<double>::decode(node, value) || !std::isfinite(value)) {
    return Bad(key, absl::StrCat("'", node.Scalar(), "' is not a number"));
  }
  return value;
}

absl::StatusOr<double> ReadPositive(const YAML::Node& node, const std::string& key) {
  ASSIGN_OR_RETURN(double value, ReadNumber(node, key));
  if (!(value > 0)) return Bad(key, "must be > 0");
  return value;
}

absl::StatusOr<int> ReadInt(const YAML::Node& node, const std::string& key, int lo, int hi) {
  ASSIGN_OR_RETURN(double value, ReadNumber(node, key));
  if (value != std::floor(value) || value < lo || value > hi) {
    return Bad(key, absl::StrCat("must be an integer in ", lo, "..", hi));
  }
  return static_cast<int>(value);
}

absl::StatusOr<std::string> ReadName(const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar() || node.Scalar().empty()) return Bad(key, "must be a non-empty name");
  const std::string& s = node.Scalar();
  if (s.size() > 63) return Bad(key, "must be at most 63 characters");
  if (!IsValidName(s, 63)) {
    return Bad(key, absl::StrCat("'", s, "' may hold only letters, digits, '-', '_', '.'"));
  }
  return s;
}

absl::StatusOr<int> ReadDurationMs(const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar()) return Bad(key, "must be a duration such as 20s");
  auto parsed = loadgen::ParseDuration(node.Scalar());
  if (!parsed.ok()) return Bad(key, parsed.status().message());
  if (parsed->count() > kMaxDurationMs) return Bad(key, "must be at most 600s");
  return static_cast<int>(parsed->count());
}

absl::Status CheckKeys(const YAML::Node& map, const std::string& where,
                       const std::set<std::string>& known) {
  for (const auto& entry : map) {
    const std::string key = entry.first.Scalar();
    if (!known.count(key)) {
      return Bad(where.empty() ? key : absl::StrCat(where, ".", key),
                 absl::StrCat("unknown key (known: ", absl::StrJoin(known, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

// A profile: cost and max are the planner's; the rest is a sim device, checked by
// sim::ParseScenario later (ReadScenarioParts).
absl::Status ReadProfile(const YAML::Node& node, const std::string& key, DeviceProfile& p,
                         YAML::Node& device) {
  if (!node.IsMap()) return Bad(key, "must be a mapping");
  RETURN_IF_ERROR(CheckKeys(node, key,
                            {"name", "kind", "slots", "latency_ms", "default_latency_ms", "types",
                             "sigma", "cost", "max"}));
  if (!node["name"]) return Bad(key + ".name", "is required");
  ASSIGN_OR_RETURN(p.device.name, ReadName(node["name"], key + ".name"));
  if (node["cost"]) {
    ASSIGN_OR_RETURN(p.cost, ReadPositive(node["cost"], key + ".cost"));
  }
  if (node["max"]) {
    ASSIGN_OR_RETURN(int max, ReadInt(node["max"], key + ".max", 0, kMaxDevicesLimit));
    p.max_count = max;
  }
  device = YAML::Node(YAML::NodeType::Map);
  for (const auto& entry : node) {
    const std::string k = entry.first.Scalar();
    if (k != "cost" && k != "max") device[k] = entry.second;
  }
  return absl::OkStatus();
}

absl::StatusOr<NodeTemplate> ReadNodeTemplate(const YAML::Node& node, const std::string& key) {
  if (!node.IsMap()) return Bad(key, "must be a mapping");
  RETURN_IF_ERROR(CheckKeys(node, key, {"name", "accelerators", "cpus", "cost", "profiles"}));
  NodeTemplate t;
  if (!node["name"]) return Bad(key + ".name", "is required");
  ASSIGN_OR_RETURN(t.name, ReadName(node["name"], key + ".name"));
  if (node["accelerators"]) {
    ASSIGN_OR_RETURN(t.accelerators, ReadInt(node["accelerators"], key + ".accelerators", 0, 64));
  }
  if (node["cpus"]) {
    ASSIGN_OR_RETURN(t.cpus, ReadInt(node["cpus"], key + ".cpus", 0, 64));
  }
  if (t.accelerators + t.cpus == 0)
    return Bad(key, "holds no device (accelerators and cpus are 0)");
  if (node["cost"]) {
    ASSIGN_OR_RETURN(t.cost, ReadNumber(node["cost"], key + ".cost"));
    if (t.cost < 0) return Bad(key + ".cost", "must be >= 0");
  }
  if (const YAML::Node list = node["profiles"]) {
    if (!list.IsSequence()) return Bad(key + ".profiles", "must be a list of profile names");
    for (size_t i = 0; i < list.size(); ++i) {
      ASSIGN_OR_RETURN(std::string name,
                       ReadName(list[i], absl::StrCat(key, ".profiles[", i, "]")));
      t.profiles.push_back(std::move(name));
    }
  }
  return t;
}

absl::Status ReadCatalog(const YAML::Node& node, PlanSpec& spec, YAML::Node& devices) {
  if (!node || !node.IsMap())
    return Bad("catalog", "is required: a mapping with profiles and nodes");
  RETURN_IF_ERROR(CheckKeys(node, "catalog", {"profiles", "nodes"}));
  const YAML::Node profiles = node["profiles"];
  if (!profiles || !profiles.IsSequence() || profiles.size() == 0) {
    return Bad("catalog.profiles", "is required: a non-empty list of device profiles");
  }
  if (profiles.size() > static_cast<size_t>(kMaxProfiles)) {
    return Bad("catalog.profiles", absl::StrCat("at most ", kMaxProfiles, " profiles"));
  }
  std::set<std::string> names;
  devices = YAML::Node(YAML::NodeType::Sequence);
  for (size_t i = 0; i < profiles.size(); ++i) {
    const std::string key = absl::StrCat("catalog.profiles[", i, "]");
    DeviceProfile p;
    YAML::Node device;
    RETURN_IF_ERROR(ReadProfile(profiles[i], key, p, device));
    if (!names.insert(p.name()).second) {
      return Bad(key + ".name", absl::StrCat("'", p.name(), "' appears twice"));
    }
    devices.push_back(device);
    spec.profiles.push_back(std::move(p));
  }
  if (const YAML::Node nodes = node["nodes"]) {
    if (!nodes.IsSequence()) return Bad("catalog.nodes", "must be a list of node templates");
    if (nodes.size() > 64) return Bad("catalog.nodes", "at most 64 node templates");
    for (size_t i = 0; i < nodes.size(); ++i) {
      const std::string key = absl::StrCat("catalog.nodes[", i, "]");
      ASSIGN_OR_RETURN(NodeTemplate t, ReadNodeTemplate(nodes[i], key));
      for (size_t j = 0; j < t.profiles.size(); ++j) {
        if (!names.count(t.profiles[j])) {
          return Bad(absl::StrCat(key, ".profiles[", j, "]"),
                     absl::StrCat("'", t.profiles[j], "' is not a profile of catalog.profiles"));
        }
      }
      spec.nodes.push_back(std::move(t));
    }
  }
  if (spec.nodes.empty()) spec.nodes.push_back(NodeTemplate{.name = "node"});
  return absl::OkStatus();
}

// The profiles must fit a node template and every type the cameras ask for must run
// somewhere.
absl::Status CheckCatalog(const PlanSpec& spec) {
  for (size_t i = 0; i < spec.profiles.size(); ++i) {
    const DeviceProfile& p = spec.profiles[i];
    bool fits = false;
    for (const NodeTemplate& t : spec.nodes) {
      fits = fits || (t.Takes(p) && (p.is_cpu() ? t.cpus : t.accelerators) > 0);
    }
    if (!fits) {
      return Bad(absl::StrCat("catalog.profiles[", i, "]"),
                 absl::StrCat("no node template of catalog.nodes can hold '", p.name(), "'"));
    }
  }
  for (const auto& [type, rate] : spec.DemandByType()) {
    bool runs = false;
    for (const DeviceProfile& p : spec.profiles) runs = runs || p.LatencyMs(type).has_value();
    if (!runs) {
      return Bad("cameras", absl::StrCat("inference type '", type,
                                         "' is run by no profile of catalog.profiles"));
    }
  }
  return absl::OkStatus();
}

absl::Status ReadSlo(const YAML::Node& node, SloSpec& slo) {
  if (!node.IsMap()) return Bad("slo", "must be a mapping: {attainment: 0.999, load: 1.0}");
  RETURN_IF_ERROR(CheckKeys(node, "slo", {"attainment", "load"}));
  if (node["attainment"]) {
    ASSIGN_OR_RETURN(slo.attainment, ReadNumber(node["attainment"], "slo.attainment"));
    if (!(slo.attainment > 0 && slo.attainment <= 1))
      return Bad("slo.attainment", "must be in (0, 1]");
  }
  if (node["load"]) {
    ASSIGN_OR_RETURN(slo.load, ReadPositive(node["load"], "slo.load"));
    if (slo.load > 100) return Bad("slo.load", "must be at most 100");
  }
  return absl::OkStatus();
}

absl::Status ReadSearch(const YAML::Node& node, SearchSpec& search) {
  if (!node.IsMap()) return Bad("search", "must be a mapping");
  RETURN_IF_ERROR(
      CheckKeys(node, "search",
                {"duration", "warmup", "seeds", "max_devices", "bisect_steps", "max_utilisation",
                  "time_limit"}));
  if (node["duration"]) {
    ASSIGN_OR_RETURN(search.duration_ms, ReadDurationMs(node["duration"], "search.duration"));
  }
  if (search.duration_ms < 1000) return Bad("search.duration", "must be at least 1s");
  if (node["warmup"]) {
    ASSIGN_OR_RETURN(search.warmup_ms, ReadDurationMs(node["warmup"], "search.warmup"));
  }
  if (node["seeds"]) {
    ASSIGN_OR_RETURN(search.seeds, ReadInt(node["seeds"], "search.seeds", 1, kMaxSeeds));
  }
  if (node["max_devices"]) {
    ASSIGN_OR_RETURN(search.max_devices,
                     ReadInt(node["max_devices"], "search.max_devices", 1, kMaxDevicesLimit));
  }
  if (node["bisect_steps"]) {
    ASSIGN_OR_RETURN(search.bisect_steps,
                     ReadInt(node["bisect_steps"], "search.bisect_steps", 0, 20));
  }
  if (node["time_limit"]) {
    ASSIGN_OR_RETURN(search.time_limit_ms, ReadDurationMs(node["time_limit"], "search.time_limit"));
  }
  if (node["max_utilisation"]) {
    ASSIGN_OR_RETURN(search.max_utilisation,
                     ReadNumber(node["max_utilisation"], "search.max_utilisation"));
    if (!(search.max_utilisation > 0 && search.max_utilisation <= 1)) {
      return Bad("search.max_utilisation", "must be in (0, 1]");
    }
  }
  return absl::OkStatus();
}

// The scenario keys go to sim::ParseScenario with one node holding one device per
// profile, which checks the cameras and the profiles' device keys in one pass.
absl::Status ReadScenarioParts(const YAML::Node& root, const YAML::Node& devices, PlanSpec& spec) {
  YAML::Node scenario(YAML::NodeType::Map);
  for (const char* key : kScenarioKeys) {
    if (root[key]) scenario[key] = root[key];
  }
  if (!root["cameras"]) return Bad("cameras", "is required: a non-empty list of cameras");
  YAML::Node node(YAML::NodeType::Map);
  node["name"] = "catalog";
  node["devices"] = devices;
  scenario["nodes"].push_back(node);
  YAML::Emitter out;
  out << scenario;
  auto parsed = sim::ParseScenario(out.c_str());
  if (!parsed.ok()) {
    // The catalog's devices are the scenario's nodes[0].devices[i].
    std::string message(parsed.status().message());
    const std::string prefix = "nodes[0].devices[";
    if (message.rfind(prefix, 0) == 0)
      message = "catalog.profiles[" + message.substr(prefix.size());
    return absl::InvalidArgumentError(message);
  }
  spec.base = std::move(*parsed);
  if (spec.base.cameras.empty()) return Bad("cameras", "is required: a non-empty list of cameras");
  for (size_t i = 0; i < spec.profiles.size(); ++i) {
    spec.profiles[i].device = spec.base.nodes[0].devices[i];
  }
  spec.base.nodes.clear();
  spec.base.faults.clear();
  spec.base.duration = std::chrono::milliseconds(spec.search.duration_ms);
  spec.base.warmup = std::chrono::milliseconds(spec.search.warmup_ms);
  return absl::OkStatus();
}

absl::Status ReadRoot(const YAML::Node& root, PlanSpec& spec) {
  if (!root.IsMap()) return Bad("plan", "the top level must be a mapping");
  std::set<std::string> known = {"slo", "search", "catalog"};
  for (const char* key : kScenarioKeys) known.insert(key);
  RETURN_IF_ERROR(CheckKeys(root, "", known));
  if (root["slo"]) RETURN_IF_ERROR(ReadSlo(root["slo"], spec.slo));
  if (root["search"]) RETURN_IF_ERROR(ReadSearch(root["search"], spec.search));
  YAML::Node devices;
  RETURN_IF_ERROR(ReadCatalog(root["catalog"], spec, devices));
  RETURN_IF_ERROR(ReadScenarioParts(root, devices, spec));
  return CheckCatalog(spec);
}

}  // namespace

std::optional<double> DeviceProfile::LatencyMs(const std::string& type) const {
  const std::vector<std::string> types = device.RunTypes();
  if (!std::binary_search(types.begin(), types.end(), type)) return std::nullopt;
  return device.MeanMs(type);
}

bool NodeTemplate::Takes(const DeviceProfile& profile) const {
  return profiles.empty() ||
         std::find(profiles.begin(), profiles.end(), profile.name()) != profiles.end();
}

std::map<std::string, double> PlanSpec::DemandByType() const {
  std::map<std::string, double> demand;
  for (const sim::CameraSpec& c : base.cameras) {
    for (const auto& [type, share] : c.Shares()) demand[type] += c.count * c.rate * share;
  }
  return demand;
}

double PlanSpec::TotalRate() const {
  double total = 0;
  for (const sim::CameraSpec& c : base.cameras) total += c.count * c.rate;
  return total;
}

std::optional<double> PlanSpec::DeadlineMs(const std::string& type) const {
  std::optional<double> out;
  for (const sim::CameraSpec& c : base.cameras) {
    if (c.deadline_ms && c.Shares().count(type)) {
      out = std::min(out.value_or(*c.deadline_ms), *c.deadline_ms);
    }
  }
  return out;
}

absl::StatusOr<PlanSpec> ParsePlanSpec(std::string_view yaml) {
  if (yaml.size() > kMaxPlanYamlBytes) {
    return absl::InvalidArgumentError("plan: the file is larger than 1 MiB");
  }
  PlanSpec spec;
  try {
    RETURN_IF_ERROR(ReadRoot(YAML::Load(std::string(yaml)), spec));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("plan: ", e.what()));
  }
  return spec;
}

absl::StatusOr<PlanSpec> LoadPlanSpec(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read plan file ", path));
  std::stringstream text;
  text << in.rdbuf();
  auto spec = ParsePlanSpec(text.str());
  if (!spec.ok()) {
    return absl::Status(spec.status().code(), absl::StrCat(path, ": ", spec.status().message()));
  }
  return spec;
}

}  // namespace heteroaccel::plan

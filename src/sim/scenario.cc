// ParseScenario / ToYaml: the scenario format (docs/simulator.md). yaml-cpp's
// exceptions stop here and become InvalidArgument naming the key.
#include "sim/scenario.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "loadgen/bench.h"

namespace heteroaccel::sim {
namespace {

constexpr size_t kMaxYamlBytes = 4 << 20;
constexpr int kMaxQueueCapacity = 10'000'000;
constexpr int kMaxAttempts = 100;
constexpr int kMaxInflight = 1000;
constexpr double kMaxSigma = 4;

absl::Status Bad(const std::string& key, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(key, ": ", why));
}

std::string At(const std::string& list, size_t i) { return absl::StrCat(list, "[", i, "]"); }
std::string Dot(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : absl::StrCat(parent, ".", std::string(key));
}

// [A-Za-z0-9._-]{1,63}: names become parts of "node/device" keys and labels.
absl::Status CheckName(const std::string& key, const std::string& name) {
  if (name.empty() || name.size() > 63) return Bad(key, "must be 1 to 63 characters");
  if (!IsValidName(name, 63)) {
    return Bad(key, absl::StrCat("'", name, "' may hold only letters, digits, '.', '_' and '-'"));
  }
  return absl::OkStatus();
}

// Every key of `map` must be one of `known`.
absl::Status CheckKeys(const YAML::Node& map, const std::string& where,
                       std::initializer_list<std::string_view> known) {
  if (!map.IsMap()) return Bad(where.empty() ? "scenario" : where, "must be a mapping");
  for (const auto& entry : map) {
    const std::string key = entry.first.Scalar();
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string expected;
      for (const std::string_view k : known) {
        absl::StrAppend(&expected, expected.empty() ? "" : ", ", std::string(k));
      }
      return Bad(Dot(where, key), absl::StrCat("unknown key; expected one of: ", expected));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> String(const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar()) return Bad(key, "must be a string");
  return node.Scalar();
}

absl::StatusOr<double> Number(const YAML::Node& node, const std::string& key, double min,
                              double max) {
  double value = 0;
  if (!node.IsScalar() || !absl::SimpleAtod(node.Scalar(), &value) || !std::isfinite(value)) {
    return Bad(key, "must be a number");
  }
  if (value < min || value > max) {
    return Bad(key, absl::StrCat("must be in [", min, ", ", max, "], not ", node.Scalar()));
  }
  return value;
}

absl::StatusOr<int64_t> Integer(const YAML::Node& node, const std::string& key, int64_t min,
                                int64_t max) {
  int64_t value = 0;
  if (!node.IsScalar() || !absl::SimpleAtoi(node.Scalar(), &value)) {
    return Bad(key, "must be an integer");
  }
  if (value < min || value > max) {
    return Bad(key, absl::StrCat("must be in [", min, ", ", max, "], not ", node.Scalar()));
  }
  return value;
}

absl::StatusOr<std::chrono::milliseconds> Duration(const YAML::Node& node,
                                                   const std::string& key) {
  if (!node.IsScalar()) return Bad(key, "must be a duration such as 60s or 500ms");
  auto parsed = loadgen::ParseDuration(node.Scalar());
  if (!parsed.ok()) return Bad(key, parsed.status().message());
  return *parsed;
}

absl::StatusOr<std::vector<std::string>> StringList(const YAML::Node& node,
                                                    const std::string& key) {
  if (!node.IsSequence() || node.size() == 0) return Bad(key, "must be a non-empty list");
  std::vector<std::string> out;
  for (size_t i = 0; i < node.size(); ++i) {
    ASSIGN_OR_RETURN(std::string s, String(node[i], At(key, i)));
    if (s.empty()) return Bad(At(key, i), "must not be empty");
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<int> Priority(const YAML::Node& node, const std::string& key) {
  if (node.IsScalar()) {
    const std::string& s = node.Scalar();
    if (s == "critical") return scheduler::kPriorityCritical;
    if (s == "high") return scheduler::kPriorityHigh;
    if (s == "normal") return scheduler::kPriorityNormal;
    if (s == "low") return scheduler::kPriorityLow;
    if (s == "batch") return scheduler::kPriorityBatch;
    int value = 0;
    if (absl::SimpleAtoi(s, &value) && value >= -1000 && value <= 1000) return value;
  }
  return Bad(key, "must be critical, high, normal, low, batch or an integer in [-1000, 1000]");
}

absl::StatusOr<DeviceSpec> ParseDevice(const YAML::Node& node, const std::string& key) {
  RETURN_IF_ERROR(CheckKeys(
      node, key,
      {"name", "kind", "slots", "latency_ms", "default_latency_ms", "types", "sigma", "variants"}));
  DeviceSpec d;
  if (!node["name"]) return Bad(Dot(key, "name"), "is required");
  ASSIGN_OR_RETURN(d.name, String(node["name"], Dot(key, "name")));
  RETURN_IF_ERROR(CheckName(Dot(key, "name"), d.name));
  if (node["kind"]) {
    ASSIGN_OR_RETURN(d.kind, String(node["kind"], Dot(key, "kind")));
    RETURN_IF_ERROR(CheckName(Dot(key, "kind"), d.kind));
  }
  if (node["slots"]) {
    ASSIGN_OR_RETURN(int64_t slots, Integer(node["slots"], Dot(key, "slots"), 1, kMaxSlots));
    d.slots = static_cast<int>(slots);
  }
  if (const YAML::Node latency = node["latency_ms"]) {
    const std::string lkey = Dot(key, "latency_ms");
    if (!latency.IsMap()) return Bad(lkey, "must map inference types to milliseconds");
    for (const auto& entry : latency) {
      const std::string type = entry.first.Scalar();
      RETURN_IF_ERROR(CheckName(Dot(lkey, type), type));
      ASSIGN_OR_RETURN(d.latency_ms[type], Number(entry.second, Dot(lkey, type), 0, 3.6e6));
    }
  }
  if (node["default_latency_ms"]) {
    ASSIGN_OR_RETURN(d.default_latency_ms, Number(node["default_latency_ms"],
                                                  Dot(key, "default_latency_ms"), 0, 3.6e6));
  }
  if (node["types"]) {
    ASSIGN_OR_RETURN(d.types, StringList(node["types"], Dot(key, "types")));
    for (size_t i = 0; i < d.types.size(); ++i) {
      RETURN_IF_ERROR(CheckName(At(Dot(key, "types"), i), d.types[i]));
    }
  }
  if (node["sigma"]) {
    ASSIGN_OR_RETURN(d.sigma, Number(node["sigma"], Dot(key, "sigma"), 0, kMaxSigma));
  }
  if (const YAML::Node variants = node["variants"]) {
    const std::string vkey = Dot(key, "variants");
    if (!variants.IsMap()) return Bad(vkey, "must map inference types to {variant: ms, ...}");
    for (const auto& entry : variants) {
      const std::string type = entry.first.Scalar();
      const std::string tkey = Dot(vkey, type);
      RETURN_IF_ERROR(CheckName(tkey, type));
      if (!entry.second.IsMap() || entry.second.size() == 0) {
        return Bad(tkey, "must map variants to milliseconds, the primary first");
      }
      auto& list = d.variants[type];
      for (const auto& v : entry.second) {
        const std::string variant = v.first.Scalar();
        RETURN_IF_ERROR(CheckName(Dot(tkey, variant), variant));
        ASSIGN_OR_RETURN(const double ms, Number(v.second, Dot(tkey, variant), 0, 3.6e6));
        list.emplace_back(variant, ms);
      }
    }
  }
  if (d.RunTypes().empty()) {
    return Bad(key, "runs no inference type: give latency_ms or types");
  }
  return d;
}

absl::StatusOr<DegradeSpec> ParseDegrade(const YAML::Node& node, const std::string& key) {
  RETURN_IF_ERROR(CheckKeys(node, key, {"floor", "variants"}));
  DegradeSpec d;
  if (!node["floor"]) return Bad(Dot(key, "floor"), "is required");
  ASSIGN_OR_RETURN(d.floor, Number(node["floor"], Dot(key, "floor"), 0, 1));
  const YAML::Node variants = node["variants"];
  const std::string vkey = Dot(key, "variants");
  if (!variants || !variants.IsMap() || variants.size() == 0) {
    return Bad(vkey, "must map variants to their accuracy in [0, 1]");
  }
  for (const auto& v : variants) {
    const std::string variant = v.first.Scalar();
    RETURN_IF_ERROR(CheckName(Dot(vkey, variant), variant));
    ASSIGN_OR_RETURN(const double accuracy, Number(v.second, Dot(vkey, variant), 0, 1));
    d.variants.emplace_back(variant, accuracy);
  }
  return d;
}

absl::StatusOr<NodeSpec> ParseNode(const YAML::Node& node, const std::string& key) {
  RETURN_IF_ERROR(CheckKeys(node, key, {"name", "count", "group", "devices"}));
  NodeSpec n;
  if (!node["name"]) return Bad(Dot(key, "name"), "is required");
  ASSIGN_OR_RETURN(n.name, String(node["name"], Dot(key, "name")));
  RETURN_IF_ERROR(CheckName(Dot(key, "name"), n.name));
  if (node["count"]) {
    ASSIGN_OR_RETURN(int64_t count, Integer(node["count"], Dot(key, "count"), 1, kMaxNodeCount));
    n.count = static_cast<int>(count);
  }
  if (node["group"]) {
    ASSIGN_OR_RETURN(n.group, String(node["group"], Dot(key, "group")));
    if (!n.group.empty()) RETURN_IF_ERROR(CheckName(Dot(key, "group"), n.group));
  }
  const std::string dkey = Dot(key, "devices");
  const YAML::Node devices = node["devices"];
  if (!devices || !devices.IsSequence() || devices.size() == 0) {
    return Bad(dkey, "must be a non-empty list of devices");
  }
  if (devices.size() > kMaxDevicesPerNode) {
    return Bad(dkey, absl::StrCat("at most ", kMaxDevicesPerNode, " devices per node"));
  }
  std::set<std::string> names;
  for (size_t i = 0; i < devices.size(); ++i) {
    ASSIGN_OR_RETURN(DeviceSpec d, ParseDevice(devices[i], At(dkey, i)));
    if (!names.insert(d.name).second) {
      return Bad(Dot(At(dkey, i), "name"), absl::StrCat("'", d.name, "' appears twice"));
    }
    n.devices.push_back(std::move(d));
  }
  return n;
}

absl::Status ParseMix(const YAML::Node& node, const std::string& key, CameraSpec& c) {
  if (node.IsSequence()) {
    ASSIGN_OR_RETURN(c.mix, StringList(node, key));
    return absl::OkStatus();
  }
  if (node.IsMap() && node.size() > 0) {
    for (const auto& entry : node) {
      const std::string type = entry.first.Scalar();
      ASSIGN_OR_RETURN(double w, Number(entry.second, Dot(key, type), 0, 1e9));
      if (w <= 0) return Bad(Dot(key, type), "weight must be > 0");
      c.mix_weights[type] = w;
    }
    return absl::OkStatus();
  }
  return Bad(key, "must be a list of types ([face, pose]) or weights ({face: 1, pose: 2})");
}

absl::StatusOr<CameraSpec> ParseCamera(const YAML::Node& node, const std::string& key) {
  RETURN_IF_ERROR(CheckKeys(node, key,
                            {"name", "count", "rate", "mix", "arrivals", "on_ms", "off_ms",
                             "deadline_ms", "priority", "inflight"}));
  CameraSpec c;
  if (!node["name"]) return Bad(Dot(key, "name"), "is required");
  ASSIGN_OR_RETURN(c.name, String(node["name"], Dot(key, "name")));
  RETURN_IF_ERROR(CheckName(Dot(key, "name"), c.name));
  if (node["count"]) {
    ASSIGN_OR_RETURN(int64_t count,
                     Integer(node["count"], Dot(key, "count"), 1, kMaxCameraStreams));
    c.count = static_cast<int>(count);
  }
  if (!node["rate"]) return Bad(Dot(key, "rate"), "is required (requests/s per camera)");
  ASSIGN_OR_RETURN(c.rate, Number(node["rate"], Dot(key, "rate"), 0, 1e7));
  if (c.rate <= 0) return Bad(Dot(key, "rate"), "must be > 0");
  if (!node["mix"]) return Bad(Dot(key, "mix"), "is required");
  RETURN_IF_ERROR(ParseMix(node["mix"], Dot(key, "mix"), c));
  if (node["arrivals"]) {
    ASSIGN_OR_RETURN(std::string a, String(node["arrivals"], Dot(key, "arrivals")));
    auto arrivals = ParseArrivals(a);
    if (!arrivals.ok()) return Bad(Dot(key, "arrivals"), arrivals.status().message());
    c.arrivals = *arrivals;
  }
  for (auto [name, field] : {std::pair{"on_ms", &c.on_ms}, std::pair{"off_ms", &c.off_ms}}) {
    if (!node[name]) continue;
    ASSIGN_OR_RETURN(*field, Number(node[name], Dot(key, name), 0, 3.6e6));
  }
  if (c.on_ms <= 0) return Bad(Dot(key, "on_ms"), "must be > 0");
  if (node["deadline_ms"]) {
    ASSIGN_OR_RETURN(double d, Number(node["deadline_ms"], Dot(key, "deadline_ms"), 0, 3.6e6));
    if (d <= 0) return Bad(Dot(key, "deadline_ms"), "must be > 0");
    c.deadline_ms = d;
  }
  if (node["priority"]) {
    ASSIGN_OR_RETURN(c.priority, Priority(node["priority"], Dot(key, "priority")));
  }
  if (node["inflight"]) {
    ASSIGN_OR_RETURN(int64_t n, Integer(node["inflight"], Dot(key, "inflight"), 0, kMaxInflight));
    c.inflight = static_cast<int>(n);
  }
  return c;
}

absl::StatusOr<FaultSpec> ParseFault(const YAML::Node& node, const std::string& key) {
  RETURN_IF_ERROR(CheckKeys(node, key, {"at", "node", "down_for", "device", "slowdown"}));
  FaultSpec f;
  if (!node["at"]) return Bad(Dot(key, "at"), "is required");
  ASSIGN_OR_RETURN(f.at, Duration(node["at"], Dot(key, "at")));
  if (static_cast<bool>(node["node"]) == static_cast<bool>(node["device"])) {
    return Bad(key, "name exactly one of node (lost) or device (slowdown)");
  }
  if (node["node"]) {
    ASSIGN_OR_RETURN(f.node, String(node["node"], Dot(key, "node")));
    if (node["slowdown"]) return Bad(Dot(key, "slowdown"), "applies to a device, not a node");
    if (node["down_for"]) {
      ASSIGN_OR_RETURN(f.down_for, Duration(node["down_for"], Dot(key, "down_for")));
    }
    return f;
  }
  ASSIGN_OR_RETURN(f.device, String(node["device"], Dot(key, "device")));
  if (node["down_for"]) return Bad(Dot(key, "down_for"), "applies to a node, not a device");
  if (!node["slowdown"]) return Bad(Dot(key, "slowdown"), "is required with device");
  ASSIGN_OR_RETURN(f.slowdown, Number(node["slowdown"], Dot(key, "slowdown"), 0, 1e6));
  if (f.slowdown <= 0) return Bad(Dot(key, "slowdown"), "must be > 0");
  return f;
}

template <typename T, typename F>
absl::StatusOr<std::vector<T>> ParseList(const YAML::Node& root, const char* key, bool required,
                                         size_t max, F parse) {
  std::vector<T> out;
  const YAML::Node list = root[key];
  if (!list) {
    if (required) return Bad(key, "is required");
    return out;
  }
  if (!list.IsSequence()) return Bad(key, "must be a list");
  if (required && list.size() == 0) return Bad(key, "must not be empty");
  if (list.size() > max) return Bad(key, absl::StrCat("at most ", max, " entries"));
  for (size_t i = 0; i < list.size(); ++i) {
    ASSIGN_OR_RETURN(T item, parse(list[i], At(key, i)));
    out.push_back(std::move(item));
  }
  return out;
}

// Cross-entry checks: unique names after expansion, bounds, faults and mixes
// that refer to what exists.
absl::Status CheckScenario(const Scenario& s) {
  std::set<std::string> nodes;
  // A node's name, or an entry's base name -> the entries it names (as
  // NodeSpec::Matches), so that faults are checked without a scan per fault.
  std::map<std::string, std::vector<size_t>, std::less<>> entries_named;
  int64_t node_count = 0;
  int64_t device_count = 0;
  std::set<std::string> types;
  for (size_t i = 0; i < s.nodes.size(); ++i) {
    node_count += s.nodes[i].count;
    if (node_count > kMaxNodeCount) {
      return Bad("nodes", absl::StrCat("at most ", kMaxNodeCount, " nodes after count"));
    }
    device_count += static_cast<int64_t>(s.nodes[i].count) * s.nodes[i].devices.size();
    if (device_count > kMaxDeviceCount) {
      return Bad("nodes", absl::StrCat("at most ", kMaxDeviceCount,
                                       " devices after count (count x devices, summed)"));
    }
    for (const std::string& name : s.nodes[i].Names()) {
      if (!nodes.insert(name).second) {
        return Bad(Dot(At("nodes", i), "name"), absl::StrCat("node '", name, "' appears twice"));
      }
      entries_named[name].push_back(i);
    }
    if (s.nodes[i].count > 1) entries_named[s.nodes[i].name].push_back(i);
    for (const DeviceSpec& d : s.nodes[i].devices) {
      for (const std::string& t : d.RunTypes()) types.insert(t);
    }
  }
  std::set<std::string> cameras;
  int64_t streams = 0;
  for (size_t i = 0; i < s.cameras.size(); ++i) {
    const CameraSpec& c = s.cameras[i];
    streams += static_cast<int64_t>(c.count) * std::max(1, c.Inflight());
    if (streams > kMaxCameraStreams) {
      return Bad("cameras", absl::StrCat("at most ", kMaxCameraStreams,
                                         " camera streams (count x inflight)"));
    }
    for (const std::string& name : c.Names()) {
      if (!cameras.insert(name).second) {
        return Bad(Dot(At("cameras", i), "name"),
                   absl::StrCat("camera '", name, "' appears twice"));
      }
    }
    for (const auto& [type, share] : c.Shares()) {
      if (!types.contains(type)) {
        return Bad(Dot(At("cameras", i), "mix"),
                   absl::StrCat("no device runs '", type, "'; devices run: ",
                                absl::StrJoin(types, ", ")));
      }
    }
  }
  for (const auto& entry : s.degrade) {
    const std::string& type = entry.first;
    const std::string key = Dot("degrade", type);
    if (!types.contains(type)) return Bad(key, "no device runs this type");
    for (const auto& listed : entry.second.variants) {
      const std::string& variant = listed.first;
      const bool loaded = std::any_of(s.nodes.begin(), s.nodes.end(), [&](const NodeSpec& n) {
        return std::any_of(n.devices.begin(), n.devices.end(), [&](const DeviceSpec& d) {
          return d.VariantMs(type, variant).has_value();
        });
      });
      if (!loaded) {
        return Bad(Dot(Dot(key, "variants"), variant),
                   "no device lists this variant under its `variants`");
      }
    }
  }
  for (size_t i = 0; i < s.faults.size(); ++i) {
    const FaultSpec& f = s.faults[i];
    if (!f.node.empty() && !entries_named.contains(f.node)) {
      return Bad(Dot(At("faults", i), "node"), absl::StrCat("no node '", f.node, "'"));
    }
    if (f.device.empty()) continue;
    const size_t slash = f.device.find('/');
    const std::string_view node = std::string_view(f.device).substr(0, slash);
    const std::string_view device =
        slash == std::string::npos ? "" : std::string_view(f.device).substr(slash + 1);
    bool found = false;
    if (auto named = entries_named.find(node); named != entries_named.end()) {
      for (const size_t n : named->second) {
        for (const DeviceSpec& d : s.nodes[n].devices) found = found || d.name == device;
      }
    }
    if (!found) {
      return Bad(Dot(At("faults", i), "device"),
                 absl::StrCat("no device '", f.device, "' (write node/device)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Scenario> ParseRoot(const YAML::Node& root) {
  RETURN_IF_ERROR(
      CheckKeys(root, "",
                {"name", "seed", "duration", "warmup", "policy", "rtt_ms", "client_rtt_ms",
                 "service_overhead_ms", "queue_capacity", "max_attempts", "nodes", "cameras",
                 "faults", "degrade"}));
  Scenario s;
  if (root["name"]) {
    ASSIGN_OR_RETURN(s.name, String(root["name"], "name"));
    RETURN_IF_ERROR(CheckName("name", s.name));
  }
  if (root["seed"]) {
    uint64_t seed = 0;
    if (!root["seed"].IsScalar() || !absl::SimpleAtoi(root["seed"].Scalar(), &seed)) {
      return Bad("seed", "must be a non-negative integer");
    }
    s.seed = seed;
  }
  if (root["duration"]) {
    ASSIGN_OR_RETURN(s.duration, Duration(root["duration"], "duration"));
  }
  if (s.duration.count() <= 0) return Bad("duration", "must be > 0");
  if (root["warmup"]) {
    ASSIGN_OR_RETURN(s.warmup, Duration(root["warmup"], "warmup"));
  }
  if (root["policy"]) {
    ASSIGN_OR_RETURN(std::string p, String(root["policy"], "policy"));
    auto policy = scheduler::ParsePolicy(p);
    if (!policy.ok()) return Bad("policy", policy.status().message());
    s.policy = *policy;
  }
  if (root["rtt_ms"]) {
    ASSIGN_OR_RETURN(s.rtt_ms, Number(root["rtt_ms"], "rtt_ms", 0, 6e4));
  }
  if (root["client_rtt_ms"]) {
    ASSIGN_OR_RETURN(s.client_rtt_ms, Number(root["client_rtt_ms"], "client_rtt_ms", 0, 6e4));
  }
  if (root["service_overhead_ms"]) {
    ASSIGN_OR_RETURN(s.service_overhead_ms,
                     Number(root["service_overhead_ms"], "service_overhead_ms", 0, 6e4));
  }
  if (root["queue_capacity"]) {
    ASSIGN_OR_RETURN(int64_t q,
                     Integer(root["queue_capacity"], "queue_capacity", 1, kMaxQueueCapacity));
    s.queue_capacity = static_cast<int>(q);
  }
  if (root["max_attempts"]) {
    ASSIGN_OR_RETURN(int64_t a, Integer(root["max_attempts"], "max_attempts", 1, kMaxAttempts));
    s.max_attempts = static_cast<int>(a);
  }
  ASSIGN_OR_RETURN(s.nodes, ParseList<NodeSpec>(root, "nodes", true, kMaxNodeCount, ParseNode));
  ASSIGN_OR_RETURN(s.cameras, ParseList<CameraSpec>(root, "cameras", true, kMaxCameraStreams,
                                                    ParseCamera));
  ASSIGN_OR_RETURN(s.faults, ParseList<FaultSpec>(root, "faults", false, kMaxFaults, ParseFault));
  if (const YAML::Node degrade = root["degrade"]) {
    if (!degrade.IsMap()) return Bad("degrade", "must map inference types to {floor, variants}");
    for (const auto& entry : degrade) {
      const std::string type = entry.first.Scalar();
      ASSIGN_OR_RETURN(s.degrade[type], ParseDegrade(entry.second, Dot("degrade", type)));
    }
  }
  RETURN_IF_ERROR(CheckScenario(s));
  return s;
}

// The shortest text that reads back as the same double.
std::string Num(double v) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), v);
  return std::string(buffer, end);
}

std::string Ms(std::chrono::milliseconds d) { return absl::StrCat(d.count(), "ms"); }

void WriteDevice(const DeviceSpec& d, std::ostringstream& out) {
  out << "      - {name: " << d.name << ", kind: " << d.kind << ", slots: " << d.slots;
  out << ", latency_ms: {";
  bool first = true;
  for (const auto& [type, ms] : d.latency_ms) {
    out << (first ? "" : ", ") << type << ": " << Num(ms);
    first = false;
  }
  out << "}, default_latency_ms: " << Num(d.default_latency_ms);
  if (!d.types.empty()) out << ", types: [" << absl::StrJoin(d.types, ", ") << "]";
  if (!d.variants.empty()) {
    out << ", variants: {";
    first = true;
    for (const auto& [type, list] : d.variants) {
      out << (first ? "" : ", ") << type << ": {";
      for (size_t i = 0; i < list.size(); ++i) {
        out << (i == 0 ? "" : ", ") << list[i].first << ": " << Num(list[i].second);
      }
      out << "}";
      first = false;
    }
    out << "}";
  }
  out << ", sigma: " << Num(d.sigma) << "}\n";
}

void WriteCamera(const CameraSpec& c, std::ostringstream& out) {
  out << "  - name: " << c.name << "\n    count: " << c.count << "\n    rate: " << Num(c.rate)
      << "\n    mix: ";
  if (!c.mix.empty()) {
    out << "[" << absl::StrJoin(c.mix, ", ") << "]\n";
  } else {
    out << "{";
    bool first = true;
    for (const auto& [type, w] : c.mix_weights) {
      out << (first ? "" : ", ") << type << ": " << Num(w);
      first = false;
    }
    out << "}\n";
  }
  out << "    arrivals: " << ArrivalsName(c.arrivals) << "\n    on_ms: " << Num(c.on_ms)
      << "\n    off_ms: " << Num(c.off_ms) << "\n";
  if (c.deadline_ms) out << "    deadline_ms: " << Num(*c.deadline_ms) << "\n";
  out << "    priority: " << c.priority << "\n";
  if (c.inflight) out << "    inflight: " << *c.inflight << "\n";
}

}  // namespace

std::vector<std::string> DeviceSpec::RunTypes() const {
  std::vector<std::string> out = types;
  if (out.empty()) {
    for (const auto& [type, ms] : latency_ms) out.push_back(type);
  }
  for (const auto& [type, list] : variants) out.push_back(type);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

double DeviceSpec::MeanMs(const std::string& type) const {
  if (auto v = variants.find(type); v != variants.end()) return v->second.front().second;
  auto it = latency_ms.find(type);
  return it == latency_ms.end() ? default_latency_ms : it->second;
}

std::optional<double> DeviceSpec::VariantMs(const std::string& type,
                                            const std::string& variant) const {
  auto v = variants.find(type);
  if (v == variants.end()) return std::nullopt;
  for (const auto& [loaded, ms] : v->second) {
    if (loaded == variant) return ms;
  }
  return std::nullopt;
}

std::vector<std::string> NodeSpec::Names() const {
  if (count <= 1) return {name};
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) out.push_back(absl::StrCat(name, "-", i));
  return out;
}

bool NodeSpec::Matches(std::string_view ref) const {
  if (ref == name) return true;
  if (count <= 1 || ref.size() <= name.size() + 1 || ref.substr(0, name.size()) != name ||
      ref[name.size()] != '-') {
    return false;
  }
  const std::string_view suffix = ref.substr(name.size() + 1);
  int index = 0;
  if (!absl::SimpleAtoi(absl::string_view(suffix.data(), suffix.size()), &index)) return false;
  return index >= 0 && index < count && absl::StrCat(index) == suffix;
}

std::vector<std::string> CameraSpec::Names() const {
  const int n = std::max(1, count);
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) out.push_back(loadgen::CameraName(name, i, n));
  return out;
}

std::map<std::string, double> CameraSpec::Shares() const {
  std::map<std::string, double> shares;
  double total = 0;
  for (const std::string& t : mix) {
    shares[t] += 1;
    total += 1;
  }
  for (const auto& [t, w] : mix_weights) {
    shares[t] += w;
    total += w;
  }
  for (auto& [t, share] : shares) share /= total;
  return shares;
}

absl::StatusOr<Scenario> ParseScenario(std::string_view yaml) {
  if (yaml.size() > kMaxYamlBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("scenario: larger than ", kMaxYamlBytes, " bytes"));
  }
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    if (!root.IsMap()) return absl::InvalidArgumentError("scenario: the top level must be a mapping");
    return ParseRoot(root);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("scenario: malformed YAML: ", e.what()));
  }
}

absl::StatusOr<Scenario> LoadScenario(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot open the file"));
  std::string text;
  text.resize(kMaxYamlBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  auto scenario = ParseScenario(text);
  if (!scenario.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", scenario.status().message()));
  }
  return scenario;
}

std::string ToYaml(const Scenario& s) {
  std::ostringstream out;
  out << "name: " << s.name << "\nseed: " << s.seed << "\nduration: " << Ms(s.duration)
      << "\nwarmup: " << Ms(s.warmup) << "\npolicy: " << scheduler::PolicyName(s.policy)
      << "\nrtt_ms: " << Num(s.rtt_ms) << "\nclient_rtt_ms: " << Num(s.client_rtt_ms)
      << "\nservice_overhead_ms: " << Num(s.service_overhead_ms)
      << "\nqueue_capacity: " << s.queue_capacity << "\nmax_attempts: " << s.max_attempts
      << "\nnodes:\n";
  for (const NodeSpec& n : s.nodes) {
    out << "  - name: " << n.name << "\n    count: " << n.count << "\n";
    if (!n.group.empty()) out << "    group: " << n.group << "\n";
    out << "    devices:\n";
    for (const DeviceSpec& d : n.devices) WriteDevice(d, out);
  }
  out << "cameras:\n";
  for (const CameraSpec& c : s.cameras) WriteCamera(c, out);
  if (!s.faults.empty()) out << "faults:\n";
  for (const FaultSpec& f : s.faults) {
    out << "  - {at: " << Ms(f.at);
    if (!f.node.empty()) {
      out << ", node: " << f.node;
      if (f.down_for) out << ", down_for: " << Ms(*f.down_for);
    } else {
      out << ", device: " << f.device << ", slowdown: " << Num(f.slowdown);
    }
    out << "}\n";
  }
  if (!s.degrade.empty()) out << "degrade:\n";
  for (const auto& [type, d] : s.degrade) {
    out << "  " << type << ": {floor: " << Num(d.floor) << ", variants: {";
    for (size_t i = 0; i < d.variants.size(); ++i) {
      out << (i == 0 ? "" : ", ") << d.variants[i].first << ": " << Num(d.variants[i].second);
    }
    out << "}}\n";
  }
  return out.str();
}

}  // namespace heteroaccel::sim

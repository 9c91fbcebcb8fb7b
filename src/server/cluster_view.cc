#include "server/cluster_view.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "http/client.h"

namespace heteroaccel::server {

using Nanos = std::chrono::nanoseconds;

ClusterView::ClusterView(std::map<std::string, InferenceType> registry)
    : registry_(std::move(registry)) {}

// The variant each type runs with on a device: the placement's choice for the
// device's kind among the variants the agent loaded (placement.h), for a type
// the registry does not list the agent's default, its first. With a degrade
// policy, the other listed variants the device loaded, no more accurate than
// the primary when the policy lists it, are its alternates (the scheduler
// applies the floor).
scheduler::DeviceInfo ClusterView::DeviceFromReport(const std::string& node,
                                                    const std::vector<std::string>& groups,
                                                    const cluster::DeviceReport& d,
                                                    const Registry& registry) {
  scheduler::DeviceInfo info;
  info.key = {node, d.id};
  info.groups = groups;
  info.kind = std::string(KindName(d.kind));
  info.slots = std::max(1, d.slots);
  info.emulated = d.emulated;
  std::map<std::string, std::vector<std::string>> loaded;  // type -> variants, catalog order
  for (const cluster::VariantKey& m : d.models) loaded[m.type].push_back(m.variant);
  for (const auto& [type, variants] : loaded) {
    const std::optional<std::string> variant =
        EffectiveVariant(registry, type, info.kind, variants);
    if (!variant) continue;
    info.variants[type] = *variant;
    if (auto ms = d.service_ms.find({type, *variant}); ms != d.service_ms.end()) {
      info.reported_service[type] =
          std::chrono::duration_cast<Nanos>(std::chrono::duration<double, std::milli>(ms->second));
    }
    auto reg = registry.find(type);
    if (reg == registry.end() || !reg->second.degrade) continue;
    const DegradePolicy& policy = *reg->second.degrade;
    std::optional<double> primary;
    for (const auto& [name, accuracy] : policy.variants) {
      if (name == *variant) primary = accuracy;
    }
    scheduler::Degradation degradation{policy.floor, {}};
    for (const auto& [name, accuracy] : policy.variants) {
      if (name == *variant || (primary && accuracy > *primary)) continue;
      if (std::find(variants.begin(), variants.end(), name) == variants.end()) continue;
      scheduler::Alternate& alt = degradation.alternates.emplace_back();
      alt.variant = name;
      alt.accuracy = accuracy;
      if (auto ms = d.service_ms.find({type, name}); ms != d.service_ms.end() && ms->second > 0) {
        alt.reported_service = std::chrono::duration_cast<Nanos>(
            std::chrono::duration<double, std::milli>(ms->second));
      }
    }
    if (!degradation.alternates.empty()) info.degrade[type] = std::move(degradation);
  }
  return info;
}

ClusterView::HeartbeatChanges ClusterView::ApplyHeartbeat(cluster::NodeReport report,
                                                          Clock::TimePoint now) {
  HeartbeatChanges changes;
  Node& n = nodes_[report.node];
  if (n.url != report.url) {
    // A new address (the agent restarted): its models are described afresh.
    changes.url_changed = !n.url.empty();
    n.url = report.url;
    n.model_info.reset();
  }
  changes.url = n.url;
  if (report.model_info) n.model_info = std::move(report.model_info);
  for (const cluster::DeviceReport& old : n.devices) {
    const bool kept = std::any_of(report.devices.begin(), report.devices.end(),
                                  [&](const cluster::DeviceReport& d) { return d.id == old.id; });
    if (!kept) {
      changes.removed.push_back({report.node, old.id});
      devices_.erase({report.node, old.id});
    }
  }
  const std::vector<std::string> groups = GroupsOf(report.node, report.group);
  for (const cluster::DeviceReport& d : report.devices) {
    scheduler::DeviceInfo info = DeviceFromReport(report.node, groups, d, registry_);
    auto& busy = n.busy[d.id];
    busy.push_back({now, d.busy_seconds});
    // Enough history for a ratio over about two seconds of heartbeats.
    while (busy.size() > 2 && now - busy[1].first >= std::chrono::seconds(2)) busy.pop_front();
    devices_[info.key] = info;
    changes.devices.push_back(std::move(info));
  }
  for (auto it = n.busy.begin(); it != n.busy.end();) {
    const bool kept =
        std::any_of(report.devices.begin(), report.devices.end(),
                    [&](const cluster::DeviceReport& d) { return d.id == it->first; });
    it = kept ? std::next(it) : n.busy.erase(it);
  }
  n.devices = std::move(report.devices);
  n.group = std::move(report.group);
  n.labels = std::move(report.labels);
  n.stats = report.stats;
  n.last_seen = now;
  changes.came_up = !n.up;
  n.up = true;
  changes.need_model_info = !n.model_info.has_value();
  return changes;
}

std::vector<std::string> ClusterView::Silent(Clock::TimePoint now,
                                             std::chrono::milliseconds timeout) const {
  std::vector<std::string> out;
  for (const auto& [name, n] : nodes_) {
    if (n.up && now - n.last_seen > timeout) out.push_back(name);
  }
  return out;
}

bool ClusterView::MarkDown(const std::string& node) {
  auto it = nodes_.find(node);
  if (it == nodes_.end() || !it->second.up) return false;
  it->second.up = false;
  return true;
}

bool ClusterView::AnyUp() const {
  return std::any_of(nodes_.begin(), nodes_.end(), [](const auto& n) { return n.second.up; });
}

bool ClusterView::CanRun(const std::string& model) const {
  for (const auto& [key, info] : devices_) {
    if (info.variants.count(model) > 0 && nodes_.at(key.node).up) return true;
  }
  return false;
}

bool ClusterView::Serves(const std::string& model) const {
  return std::any_of(devices_.begin(), devices_.end(),
                     [&](const auto& d) { return d.second.variants.count(model) > 0; });
}

std::vector<std::string> ClusterView::Models() const {
  std::vector<std::string> models;
  for (const auto& [key, info] : devices_) {
    for (const auto& [type, variant] : info.variants) models.push_back(type);
  }
  std::sort(models.begin(), models.end());
  models.erase(std::unique(models.begin(), models.end()), models.end());
  return models;
}

const scheduler::DeviceInfo* ClusterView::device(const scheduler::DeviceKey& key) const {
  auto it = devices_.find(key);
  return it == devices_.end() ? nullptr : &it->second;
}

std::pair<int, int> ClusterView::UpDownCounts() const {
  int up = 0;
  for (const auto& [name, n] : nodes_) up += n.up ? 1 : 0;
  return {up, static_cast<int>(nodes_.size()) - up};
}

std::vector<ClusterView::NodeStatus> ClusterView::NodeStatuses(Clock::TimePoint now) const {
  std::vector<NodeStatus> out;
  for (const auto& [name, n] : nodes_) {
    out.push_back({name, n.group, n.up, SecondsBetween(n.last_seen, now)});
  }
  return out;
}

nlohmann::json ClusterView::ClusterJson(const scheduler::Scheduler& scheduler,
                                        Clock::TimePoint now) const {
  nlohmann::json nodes = nlohmann::json::array();
  for (const auto& [name, n] : nodes_) {
    nlohmann::json devices = nlohmann::json::array();
    for (const cluster::DeviceReport& d : n.devices) {
      const scheduler::DeviceKey key{name, d.id};
      auto info = devices_.find(key);
      if (info == devices_.end()) continue;
      devices.push_back({{"id", d.id},
                         {"kind", info->second.kind},
                         {"slots", info->second.slots},
                         {"emulated", info->second.emulated},
                         {"variants", info->second.variants},
                         {"in_flight", scheduler.in_flight(key)}});
    }
    nodes.push_back({{"node", name},
                     {"url", n.url},
                     {"up", n.up},
                     {"groups", GroupsOf(name, n.group)},
                     {"labels", LabelsOf(name, n)},
                     {"last_heartbeat_seconds_ago", SecondsBetween(n.last_seen, now)},
                     {"devices", devices}});
  }
  return {{"policy", scheduler::PolicyName(scheduler.options().policy)},
          {"queued", scheduler.queued_total()},
          {"nodes", nodes}};
}

nlohmann::json ClusterView::ModelJson(const std::string& model,
                                      const scheduler::Scheduler& scheduler) const {
  nlohmann::json devices = nlohmann::json::array();
  std::vector<std::string> variants;
  for (const auto& [key, info] : devices_) {
    auto it = info.variants.find(model);
    if (it == info.variants.end()) continue;
    auto estimate = scheduler.service_estimate(model, key);
    devices.push_back(
        {{"node", key.node},
         {"device", key.device},
         {"kind", info.kind},
         {"emulated", info.emulated},
         {"up", nodes_.at(key.node).up},
         {"variant", it->second},
         {"service_ms", estimate ? static_cast<double>(estimate->count()) / 1e6 : 0.0}});
    if (auto degrade = info.degrade.find(model); degrade != info.degrade.end()) {
      // What the device may degrade to under load, with each one's own estimate.
      nlohmann::json alternates = nlohmann::json::array();
      for (const scheduler::Alternate& a : degrade->second.alternates) {
        auto ms = scheduler.service_estimate(model, key, a.variant);
        alternates.push_back({{"variant", a.variant},
                              {"accuracy", a.accuracy},
                              {"eligible", a.accuracy >= degrade->second.floor},
                              {"service_ms", ms ? static_cast<double>(ms->count()) / 1e6 : 0.0}});
      }
      devices.back()["degrade"] = {{"floor", degrade->second.floor},
                                   {"alternates", std::move(alternates)}};
    }
    if (std::find(variants.begin(), variants.end(), it->second) == variants.end()) {
      variants.push_back(it->second);
    }
  }
  nlohmann::json info = nlohmann::json::object();
  for (const auto& [name, n] : nodes_) {
    if (!n.model_info) continue;
    if (auto t = n.model_info->find(model); t != n.model_info->end()) {
      info = cluster::ToJson(t->second);
      break;
    }
  }
  return {{"variants", variants}, {"devices", devices}, {"info", info}};
}

nlohmann::json ClusterView::VariantsJson() const {
  // type -> variant -> kind -> measured ms on each device of that kind
  std::map<std::string, std::map<std::string, std::map<std::string, std::vector<double>>>> ms;
  std::map<std::string, std::map<std::string, nlohmann::json>> about;
  for (const auto& [name, n] : nodes_) {
    if (!n.up) continue;
    if (n.model_info) {
      for (const auto& [type, t] : *n.model_info) {
        for (const auto& [variant, v] : t.variants) about[type][variant] = cluster::ToJson(v);
      }
    }
    for (const cluster::DeviceReport& d : n.devices) {
      std::string kind(KindName(d.kind));
      if (d.emulated) kind += " (emulated)";
      for (const auto& [key, value] : d.service_ms)
        ms[key.type][key.variant][kind].push_back(value);
    }
  }
  nlohmann::json result = nlohmann::json::object();
  for (const auto& [type, variants] : about) {
    for (const auto& [variant, description] : variants) {
      nlohmann::json row = description;
      row["variant"] = variant;
      nlohmann::json latency = nlohmann::json::object();
      for (auto& [kind, values] : ms[type][variant]) {
        std::sort(values.begin(), values.end());
        latency[kind] = {{"median_ms", values[values.size() / 2]}, {"devices", values.size()}};
      }
      row["latency_by_kind"] = std::move(latency);
      result[type].push_back(std::move(row));
    }
  }
  return result;
}

void ClusterView::SetRegistry(Registry registry) { registry_ = std::move(registry); }

void ClusterView::SetNodeSettings(const std::string& node, NodeSettings settings) {
  if (settings.empty()) {
    assigned_.erase(node);
  } else {
    assigned_[node] = std::move(settings);
  }
}

const NodeSettings* ClusterView::node_settings(const std::string& node) const {
  auto it = assigned_.find(node);
  return it == assigned_.end() ? nullptr : &it->second;
}

std::vector<std::string> ClusterView::GroupsOf(const std::string& name,
                                               const std::string& reported) const {
  std::vector<std::string> groups;
  if (!reported.empty()) groups.push_back(reported);
  if (auto it = assigned_.find(name); it != assigned_.end()) {
    groups.insert(groups.end(), it->second.groups.begin(), it->second.groups.end());
  }
  std::sort(groups.begin(), groups.end());
  groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
  return groups;
}

std::map<std::string, std::string> ClusterView::LabelsOf(const std::string& name,
                                                         const Node& n) const {
  std::map<std::string, std::string> labels = n.labels;
  if (auto it = assigned_.find(name); it != assigned_.end()) {
    for (const auto& [key, value] : it->second.labels) labels[key] = value;
  }
  return labels;
}

nlohmann::json ClusterView::NodesJson(Clock::TimePoint now) const {
  std::set<std::string> names;
  for (const auto& [name, n] : nodes_) names.insert(name);
  for (const auto& [name, a] : assigned_) names.insert(name);
  static const Node kUnseen;
  nlohmann::json out = nlohmann::json::array();
  for (const std::string& name : names) {
    auto it = nodes_.find(name);
    const Node& n = it == nodes_.end() ? kUnseen : it->second;
    const NodeSettings* a = node_settings(name);
    nlohmann::json node = {
        {"node", name},
        {"seen", it != nodes_.end()},
        {"up", n.up},
        {"reported", {{"group", n.group}, {"labels", n.labels}}},
        {"assigned",
         {{"groups", a != nullptr ? a->groups : std::vector<std::string>{}},
          {"labels", a != nullptr ? a->labels : std::map<std::string, std::string>{}}}},
        {"groups", GroupsOf(name, n.group)},
        {"labels", LabelsOf(name, n)}};
    if (it != nodes_.end()) node["silent_s"] = std::floor(SecondsBetween(n.last_seen, now));
    out.push_back(std::move(node));
  }
  return {{"nodes", std::move(out)}};
}

std::vector<scheduler::DeviceInfo> ClusterView::Rederive() {
  std::vector<scheduler::DeviceInfo> out;
  for (const auto& [name, n] : nodes_) {
    for (const cluster::DeviceReport& d : n.devices) {
      scheduler::DeviceInfo info = DeviceFromReport(name, GroupsOf(name, n.group), d, registry_);
      info.up = n.up;
      devices_[info.key] = info;
      out.push_back(std::move(info));
    }
  }
  return out;
}

std::vector<scheduler::DeviceInfo> ClusterView::DevicesUnder(const Registry& registry) const {
  std::vector<scheduler::DeviceInfo> out;
  for (const auto& [name, n] : nodes_) {
    for (const cluster::DeviceReport& d : n.devices) {
      scheduler::DeviceInfo info = DeviceFromReport(name, GroupsOf(name, n.group), d, registry);
      info.up = n.up;
      out.push_back(std::move(info));
    }
  }
  return out;
}

Inventory ClusterView::inventory() const {
  Inventory out;
  for (const auto& [name, n] : nodes_) {
    for (const cluster::DeviceReport& d : n.devices) {
      const std::string kind(KindName(d.kind));
      std::set<std::string> types;
      for (const cluster::VariantKey& m : d.models) {
        KindInventory& inv = out[m.type][kind];
        if (std::find(inv.variants.begin(), inv.variants.end(), m.variant) == inv.variants.end()) {
          inv.variants.push_back(m.variant);
        }
        types.insert(m.type);
      }
      for (const std::string& type : types) ++out[type][kind].devices;
    }
  }
  return out;
}

nlohmann::json ClusterView::FleetJson(const scheduler::Scheduler& scheduler,
                                      Clock::TimePoint now) const {
  // Steps coarse enough that a steady device streams nothing: the stream
  // sends only what changed (docs/bench: bytes per client at 400 devices).
  constexpr double kRatioStep = 0.02;
  // Dividing by a whole number gives the double nearest the decimal, which
  // prints short ("0.44", not "0.44000000000000006").
  auto round = [](double value, double step) {
    if (step >= 1) return std::round(value / step) * step;
    const double per_unit = std::round(1 / step);
    return std::round(value * per_unit) / per_unit;
  };
  nlohmann::json nodes = nlohmann::json::object();
  for (const auto& [name, n] : nodes_) {
    nlohmann::json devices = nlohmann::json::object();
    for (const cluster::DeviceReport& d : n.devices) {
      const scheduler::DeviceKey key{name, d.id};
      auto info = devices_.find(key);
      if (info == devices_.end()) continue;
      nlohmann::json device = {
          {"kind", info->second.kind},        {"name", d.name},
          {"emulated", d.emulated},           {"up", n.up},
          {"slots", info->second.slots},      {"busy", d.allocated},
          {"queue", d.queue_depth},           {"in_flight", scheduler.in_flight(key)},
          {"variants", info->second.variants}};
      if (auto busy = n.busy.find(d.id); busy != n.busy.end() && busy->second.size() >= 2) {
        const auto& [t0, b0] = busy->second.front();
        const auto& [t1, b1] = busy->second.back();
        const double seconds = SecondsBetween(t0, t1);
        if (seconds > 0) {
          const double ratio = (b1 - b0) / (seconds * info->second.slots);
          device["busy_ratio"] = round(std::clamp(ratio, 0.0, 1.0), kRatioStep);
        }
      }
      devices[d.id] = std::move(device);
    }
    nlohmann::json node = {{"url", n.url},
                           {"group", n.group},
                           {"groups", GroupsOf(name, n.group)},
                           {"labels", LabelsOf(name, n)},
                           {"up", n.up},
                           {"silent_s", std::floor(SecondsBetween(n.last_seen, now))},
                           {"devices", std::move(devices)}};
    if (n.stats.cpu_utilisation) node["cpu"] = round(*n.stats.cpu_utilisation, kRatioStep);
    if (n.stats.memory_total_bytes) node["mem_total"] = round(*n.stats.memory_total_bytes, 1e6);
    if (n.stats.memory_available_bytes) {
      node["mem_available"] = round(*n.stats.memory_available_bytes, 1e7);
    }
    if (n.stats.temperature_celsius) node["temp"] = round(*n.stats.temperature_celsius, 0.5);
    nodes[name] = std::move(node);
  }
  return nodes;
}

namespace {

// ",a,b," (so that a relabelling rule can match ",a,"), "" for no group.
std::string GroupsLabel(const std::vector<std::string>& groups) {
  return groups.empty() ? "" : absl::StrCat(",", absl::StrJoin(groups, ","), ",");
}

}  // namespace

nlohmann::json ClusterView::SdTargets(const std::string& server_target) const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [name, n] : nodes_) {
    // How Prometheus reaches the agent: the host:port of its URL.
    auto host_port = http::ParseHostPort(n.url);
    if (!host_port.ok()) continue;  // the contract checked it; never expected
    const auto& [host, port] = *host_port;
    const std::string target = host.find(':') != std::string::npos
                                   ? absl::StrCat("[", host, "]:", port)
                                   : absl::StrCat(host, ":", port);
    std::set<std::string> kinds;
    bool emulated = false;
    for (const cluster::DeviceReport& d : n.devices) {
      kinds.insert(std::string(KindName(d.kind)));
      emulated = emulated || d.emulated;
    }
    std::string kind_list = ",";
    for (const std::string& k : kinds) kind_list += k + ",";
    out.push_back({{"targets", {target}},
                   {"labels",
                    {{"job", "heteroaccel-agent"},
                     {"__metrics_path__", "/metrics"},
                     {"node", name},
                     {"group", n.group},
                     {"groups", GroupsLabel(GroupsOf(name, n.group))},
                     {"device_kinds", kind_list},
                     {"emulated", emulated ? "true" : "false"}}}});
  }
  if (!server_target.empty()) {
    out.push_back({{"targets", {server_target}},
                   {"labels", {{"job", "heteroaccel-server"}, {"__metrics_path__", "/metrics"}}}});
  }
  return out;
}

k8s::ClusterSnapshot ClusterView::ExtenderSnapshot(const std::vector<std::string>& nodes,
                                                   const scheduler::Scheduler& scheduler) const {
  k8s::ClusterSnapshot out;
  for (const std::string& name : nodes) {
    auto it = nodes_.find(name);
    if (it == nodes_.end()) continue;
    const Node& n = it->second;
    k8s::NodeSnapshot& node = out.nodes[name];
    node.up = n.up;
    node.devices.reserve(n.devices.size());
    for (const cluster::DeviceReport& d : n.devices) {
      const scheduler::DeviceKey key{name, d.id};
      k8s::DeviceSnapshot device = k8s::DeviceSnapshotFromReport(d);
      // The agent's figures date from its last heartbeat; the server's in
      // flight is live but misses work sent to the agent directly.
      device.work_ahead = std::max(device.work_ahead, scheduler.in_flight(key));
      if (auto info = devices_.find(key); info != devices_.end()) {
        for (const auto& [type, variant] : info->second.variants) {
          if (auto estimate = scheduler.service_estimate(type, key)) {
            device.service_ms[{type, variant}] = static_cast<double>(estimate->count()) / 1e6;
          }
        }
      }
      node.devices.push_back(std::move(device));
    }
  }
  return out;
}

}  // namespace heteroaccel::server

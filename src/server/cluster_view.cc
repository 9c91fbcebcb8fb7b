#include "server/cluster_view.h"

#include <algorithm>

namespace heteroaccel::server {

using Nanos = std::chrono::nanoseconds;

ClusterView::ClusterView(std::map<std::string, InferenceType> registry)
    : registry_(std::move(registry)) {}

// The variant each type runs with on a device: the registry's choice for the
// device's kind when the agent has it loaded, else (for a type the registry
// does not list) the agent's default, its first.
scheduler::DeviceInfo ClusterView::DeviceFromReport(const std::string& node,
                                                    const cluster::DeviceReport& d) const {
  scheduler::DeviceInfo info;
  info.key = {node, d.id};
  info.kind = std::string(KindName(d.kind));
  info.slots = std::max(1, d.slots);
  info.emulated = d.emulated;
  for (const cluster::VariantKey& m : d.models) {
    auto registered = registry_.find(m.type);
    if (registered != registry_.end() && !registered->second.variants.empty()) {
      auto wanted = registered->second.variants.find(info.kind);
      if (wanted == registered->second.variants.end() || wanted->second != m.variant) continue;
    } else if (info.variants.count(m.type) > 0) {
      continue;  // keep the agent's default (listed first)
    }
    info.variants[m.type] = m.variant;
    if (auto ms = d.service_ms.find(m); ms != d.service_ms.end()) {
      info.reported_service[m.type] =
          std::chrono::duration_cast<Nanos>(std::chrono::duration<double, std::milli>(ms->second));
    }
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
  for (const cluster::DeviceReport& d : report.devices) {
    scheduler::DeviceInfo info = DeviceFromReport(report.node, d);
    devices_[info.key] = info;
    changes.devices.push_back(std::move(info));
  }
  n.devices = std::move(report.devices);
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

void ClusterView::SetRegistry(std::map<std::string, InferenceType> registry) {
  registry_ = std::move(registry);
}

}  // namespace heteroaccel::server

#include "plan/internal/capacity.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sim/simulator.h"

namespace heteroaccel::plan::internal {
namespace {

// Above this many candidate sets of one size, LowerBound grows greedily instead.
constexpr double kMaxEnumerated = 20'000;

// The types of the demand the profile can answer within their deadlines.
std::vector<std::string> UsefulTypes(const PlanSpec& spec, const DeviceProfile& profile) {
  std::vector<std::string> out;
  const double overhead =
      spec.base.rtt_ms + spec.base.client_rtt_ms + spec.base.service_overhead_ms;
  for (const auto& [type, rate] : spec.DemandByType()) {
    std::optional<double> ms = profile.LatencyMs(type);
    if (!ms) continue;
    std::optional<double> deadline = spec.DeadlineMs(type);
    if (deadline && *ms + overhead > *deadline) continue;
    out.push_back(type);
  }
  return out;
}

// Enumerates the count vectors of `n` devices over profiles [i, end) into `counts`.
template <typename F>
void ForEachComposition(const PlanSpec& spec, Counts& counts, size_t i, int n, F& visit) {
  if (i + 1 == counts.size()) {
    if (spec.profiles[i].max_count && n > *spec.profiles[i].max_count) return;
    counts[i] = n;
    visit(counts);
    counts[i] = 0;
    return;
  }
  const int top = std::min(n, spec.profiles[i].max_count.value_or(n));
  for (int k = top; k >= 0; --k) {
    counts[i] = k;
    ForEachComposition(spec, counts, i + 1, n - k, visit);
  }
  counts[i] = 0;
}

double Binomial(int n, int k) {
  double out = 1;
  for (int i = 1; i <= k; ++i) out = out * (n - k + i) / i;
  return out;
}

}  // namespace

int TotalDevices(const Counts& counts) {
  int total = 0;
  for (int c : counts) total += c;
  return total;
}

double TotalCost(const PlanSpec& spec, const Counts& counts) {
  double cost = 0;
  for (size_t i = 0; i < counts.size(); ++i) cost += counts[i] * spec.profiles[i].cost;
  return cost;
}

double CapacityRatio(const PlanSpec& spec, const Counts& counts) {
  sim::Scenario scenario = spec.base;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] == 0) continue;
    sim::DeviceSpec device = spec.profiles[i].device;
    device.types = UsefulTypes(spec, spec.profiles[i]);
    if (device.types.empty()) continue;
    device.sigma = 0;
    sim::NodeSpec node{.name = absl::StrCat("lp-", i)};
    // Identical devices add up in the fluid model: one device per kMaxSlots slots.
    int slots = counts[i] * device.slots;
    for (int j = 0; slots > 0; ++j) {
      device.name = absl::StrCat("d", j);
      device.slots = std::min(slots, sim::kMaxSlots);
      slots -= device.slots;
      node.devices.push_back(device);
    }
    scenario.nodes.push_back(std::move(node));
  }
  if (scenario.nodes.empty()) return 0;
  const double total = spec.TotalRate();
  return total > 0 ? sim::IdealThroughput(scenario) / total : 0;
}

Counts LowerBound(const PlanSpec& spec, double load) {
  const size_t p = spec.profiles.size();
  Counts counts(p, 0);
  for (int n = 1; n <= spec.search.max_devices; ++n) {
    if (Binomial(n + static_cast<int>(p) - 1, static_cast<int>(p) - 1) > kMaxEnumerated) break;
    Counts best;
    double best_cost = std::numeric_limits<double>::infinity();
    double best_ratio = 0;
    auto visit = [&](const Counts& c) {
      const double ratio = CapacityRatio(spec, c);
      if (ratio < load - 1e-9) return;
      const double cost = TotalCost(spec, c);
      if (cost < best_cost - 1e-9 || (cost < best_cost + 1e-9 && ratio > best_ratio)) {
        best = c;
        best_cost = cost;
        best_ratio = ratio;
      }
    };
    ForEachComposition(spec, counts, 0, n, visit);
    if (!best.empty()) return best;
  }
  // Too many sets to enumerate: grow greedily.
  counts.assign(p, 0);
  while (CapacityRatio(spec, counts) < load - 1e-9) {
    const int next = NextDevice(spec, counts);
    if (next < 0 || TotalDevices(counts) >= spec.search.max_devices) return {};
    ++counts[next];
  }
  return counts;
}

int NextDevice(const PlanSpec& spec, const Counts& counts) {
  const double now = CapacityRatio(spec, counts);
  const auto demand = spec.DemandByType();
  int best = -1;
  double best_gain = -1;
  double best_speed = 0;
  Counts next = counts;
  for (size_t i = 0; i < counts.size(); ++i) {
    const DeviceProfile& profile = spec.profiles[i];
    if (profile.max_count && counts[i] >= *profile.max_count) continue;
    std::vector<std::string> useful = UsefulTypes(spec, profile);
    if (useful.empty()) continue;
    ++next[i];
    const double gain = (CapacityRatio(spec, next) - now) / profile.cost;
    --next[i];
    // Requests/s the device alone could serve of the types it is useful for.
    double speed = 0;
    for (const std::string& type : useful) {
      speed += profile.device.slots * 1e3 / *profile.LatencyMs(type) * demand.at(type);
    }
    if (gain > best_gain + 1e-12 || (gain > best_gain - 1e-12 && speed > best_speed)) {
      best = static_cast<int>(i);
      best_gain = gain;
      best_speed = speed;
    }
  }
  return best;
}

std::vector<sim::NodeSpec> PackNodes(const PlanSpec& spec, const Counts& counts) {
  struct Open {
    const NodeTemplate* tmpl;
    int accelerators = 0;
    int cpus = 0;
    std::map<std::string, int> per_profile;
  };
  std::vector<sim::NodeSpec> nodes;
  std::vector<Open> open;
  std::map<std::string, int> per_template;
  for (size_t i = 0; i < counts.size(); ++i) {
    const DeviceProfile& profile = spec.profiles[i];
    for (int k = 0; k < counts[i]; ++k) {
      auto room = [&](const Open& o) {
        return o.tmpl->Takes(profile) &&
               (profile.is_cpu() ? o.cpus < o.tmpl->cpus : o.accelerators < o.tmpl->accelerators);
      };
      size_t at = 0;
      while (at < open.size() && !room(open[at])) ++at;
      if (at == open.size()) {
        const NodeTemplate* tmpl = nullptr;
        for (const NodeTemplate& t : spec.nodes) {
          if (!tmpl && room(Open{.tmpl = &t})) tmpl = &t;
        }
        if (!tmpl) continue;  // ParsePlanSpec checked that some template takes it
        open.push_back(Open{.tmpl = tmpl});
        nodes.push_back(
            sim::NodeSpec{.name = absl::StrCat(tmpl->name, "-", per_template[tmpl->name]++)});
      }
      Open& o = open[at];
      (profile.is_cpu() ? o.cpus : o.accelerators)++;
      sim::DeviceSpec device = profile.device;
      device.name = absl::StrCat(profile.name(), "-", o.per_profile[profile.name()]++);
      nodes[at].devices.push_back(std::move(device));
    }
  }
  return nodes;
}

sim::Scenario ScenarioFor(const PlanSpec& spec, const Counts& counts, double load) {
  sim::Scenario scenario = spec.base;
  scenario.nodes = PackNodes(spec, counts);
  for (sim::CameraSpec& camera : scenario.cameras) {
    camera.rate *= load;
    // Cameras send at their rate whatever the cluster does: a camera that held back
    // while a request is outstanding (periodic arrivals default to one, as
    // `heteroaccel bench` does) would hide an overload as fewer requests.
    if (!camera.inflight) camera.inflight = 0;
  }
  return scenario;
}

std::string Describe(const PlanSpec& spec, const Counts& counts) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] > 0) parts.push_back(absl::StrCat(counts[i], " x ", spec.profiles[i].name()));
  }
  return parts.empty() ? "no device" : absl::StrJoin(parts, " + ");
}

}  // namespace heteroaccel::plan::internal

#include "plan/planner.h"

#include <algorithm>
#include <chrono>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "plan/internal/capacity.h"
#include "sim/simulator.h"

namespace heteroaccel::plan {
namespace {

using internal::Counts;

class Search {
 public:
  explicit Search(const PlanSpec& spec)
      : spec_(spec), start_(std::chrono::steady_clock::now()) {}

  // The simulated check of a set at a load; at the SLO's load the set must also keep
  // its fluid utilisation under search.max_utilisation (a queue at 100% grows without
  // bound, which a short simulation may not show).
  absl::StatusOr<Check> Evaluate(const Counts& counts, double load) {
    ASSIGN_OR_RETURN(Check check, Simulate(counts, load));
    if (load == spec_.slo.load) {
      check.meets = check.meets && check.fluid_utilisation <= spec_.search.max_utilisation + 1e-9;
    }
    return check;
  }

  absl::StatusOr<Check> Simulate(const Counts& counts, double load) {
    const auto key = std::make_pair(counts, load);
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    const double ratio = internal::CapacityRatio(spec_, counts);
    Check check{.load = load, .fluid_utilisation = ratio > 0 ? load / ratio : 1e9};
    if (ratio <= 0) {
      // Some type of the mix has no device that can answer it in time: every request
      // of it misses, so the set fails without a simulation.
      memo_.emplace(key, check);
      return check;
    }
    RETURN_IF_ERROR(CheckTime());
    sim::Scenario scenario = internal::ScenarioFor(spec_, counts, load);
    std::map<std::string, int> slots;
    for (const sim::NodeSpec& node : scenario.nodes) {
      for (const sim::DeviceSpec& d : node.devices) slots[node.name + "/" + d.name] = d.slots;
    }
    for (int k = 0; k < spec_.search.seeds; ++k) {
      scenario.seed = spec_.base.seed + static_cast<uint64_t>(k);
      ASSIGN_OR_RETURN(sim::SimReport report, sim::Simulate(scenario));
      ++simulations_;
      check.offered += report.offered;
      check.good += report.good;
      check.p99_ms = std::max(check.p99_ms, report.bench.latency.p99);
      check.p50_ms = std::max(check.p50_ms, report.bench.latency.p50);
      const double window_ms = std::max(report.bench.measured_s, 1e-9) * 1e3;
      for (const auto& [key_name, stats] : report.bench.per_device) {
        const int s = slots.count(key_name) ? slots[key_name] : 1;
        check.utilisation[key_name] +=
            stats.count * stats.mean_compute_ms / (window_ms * s) / spec_.search.seeds;
      }
    }
    for (const auto& [name, s] : slots) check.utilisation.try_emplace(name, 0.0);
    check.attainment = check.offered == 0 ? 1.0 : static_cast<double>(check.good) / check.offered;
    check.meets = check.attainment >= spec_.slo.attainment;
    memo_.emplace(key, check);
    return check;
  }

  // Step 2: from the lower bound, add devices until the SLO is met.
  absl::StatusOr<Counts> Grow(Counts counts) {
    double best = 0;
    while (true) {
      ASSIGN_OR_RETURN(Check check, Evaluate(counts, spec_.slo.load));
      if (check.meets) return counts;
      best = std::max(best, check.attainment);
      const int next = internal::NextDevice(spec_, counts);
      if (next < 0 || internal::TotalDevices(counts) >= spec_.search.max_devices) {
        return absl::FailedPreconditionError(absl::StrFormat(
            "no set of at most %d devices of the catalog meets attainment %.4f at load %.2f "
            "(best: %.4f with %s); raise search.max_devices or a profile's max, or add faster "
            "profiles",
            spec_.search.max_devices, spec_.slo.attainment, spec_.slo.load, best,
            internal::Describe(spec_, counts)));
      }
      ++counts[next];
    }
  }

  // Step 3: drop devices, the most expensive profile first, while the SLO holds.
  absl::StatusOr<Counts> Shrink(Counts counts) {
    std::vector<size_t> order(counts.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return spec_.profiles[a].cost > spec_.profiles[b].cost;
    });
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t i : order) {
        if (counts[i] == 0 || internal::TotalDevices(counts) == 1) continue;
        --counts[i];
        ASSIGN_OR_RETURN(Check check, Evaluate(counts, spec_.slo.load));
        if (check.meets) {
          changed = true;
          break;
        }
        ++counts[i];
      }
    }
    return counts;
  }

  // Step 4: the largest load in [slo.load, capacity] that still meets the SLO. A set
  // that falls short at slo.load (only Assess asks about one) is bisected in
  // [0, slo.load] instead.
  absl::StatusOr<double> MaxLoad(const Counts& counts) {
    double lo = spec_.slo.load;
    double hi = internal::CapacityRatio(spec_, counts);
    ASSIGN_OR_RETURN(Check at_slo, Simulate(counts, lo));
    if (!at_slo.meets) {
      hi = std::min(hi, lo);
      lo = 0;
    } else if (hi <= lo) {
      return lo;
    } else {
      ASSIGN_OR_RETURN(Check top, Simulate(counts, hi));
      if (top.meets) return hi;
    }
    for (int step = 0; step < spec_.search.bisect_steps; ++step) {
      const double mid = (lo + hi) / 2;
      ASSIGN_OR_RETURN(Check check, Simulate(counts, mid));
      (check.meets ? lo : hi) = mid;
    }
    return lo;
  }

  int simulations() const { return simulations_; }

 private:
  absl::Status CheckTime() const {
    if (spec_.search.time_limit_ms <= 0) return absl::OkStatus();
    const auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start_);
    if (spent.count() <= spec_.search.time_limit_ms) return absl::OkStatus();
    return absl::DeadlineExceededError(absl::StrFormat(
        "the search ran past its time limit of %d ms after %d simulation(s); shorten "
        "search.duration, use fewer seeds or raise search.time_limit",
        spec_.search.time_limit_ms, simulations_));
  }

  const PlanSpec& spec_;
  const std::chrono::steady_clock::time_point start_;
  std::map<std::pair<Counts, double>, Check> memo_;
  int simulations_ = 0;
};

std::map<std::string, int> ByProfile(const PlanSpec& spec, const Counts& counts) {
  std::map<std::string, int> out;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] > 0) out[spec.profiles[i].name()] = counts[i];
  }
  return out;
}

void Describe(const PlanSpec& spec, const Counts& counts, PlanResult& result) {
  result.counts = ByProfile(spec, counts);
  result.devices = internal::TotalDevices(counts);
  result.cost = internal::TotalCost(spec, counts);
  result.ideal_rps = internal::CapacityRatio(spec, counts) * spec.TotalRate();
  result.scenario = internal::ScenarioFor(spec, counts, spec.slo.load);
  std::map<std::string, const DeviceProfile*> by_name;
  for (const DeviceProfile& p : spec.profiles) by_name[p.name()] = &p;
  for (const sim::NodeSpec& node : result.scenario.nodes) {
    PlannedNode planned{.name = node.name};
    planned.node_template = node.name.substr(0, node.name.rfind('-'));
    for (const NodeTemplate& t : spec.nodes) {
      if (t.name == planned.node_template) result.cost += t.cost;
    }
    for (const sim::DeviceSpec& d : node.devices) {
      planned.devices.push_back(d.name);
      const std::string profile = d.name.substr(0, d.name.rfind('-'));
      const std::string key = node.name + "/" + d.name;
      auto util = result.at_slo.utilisation.find(key);
      result.device_list.push_back(
          PlannedDevice{.node = node.name,
                        .device = d.name,
                        .profile = profile,
                        .kind = d.kind,
                        .utilisation = util == result.at_slo.utilisation.end() ? 0 : util->second});
    }
    result.nodes.push_back(std::move(planned));
  }
}

}  // namespace

absl::StatusOr<PlanResult> Plan(const PlanSpec& spec) {
  const auto start = std::chrono::steady_clock::now();
  PlanResult result{.name = spec.base.name,
                    .seed = spec.base.seed,
                    .target = spec.slo.attainment,
                    .load = spec.slo.load,
                    .demand_rps = spec.TotalRate() * spec.slo.load};
  Search search(spec);
  Counts bound = internal::LowerBound(spec, spec.slo.load / spec.search.max_utilisation);
  if (bound.empty()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "the cameras need %.1f requests/s, more than %d devices of the catalog can serve even "
        "in the fluid model; raise search.max_devices or a profile's max",
        result.demand_rps, spec.search.max_devices));
  }
  result.lower_bound_devices = internal::TotalDevices(bound);
  ASSIGN_OR_RETURN(Counts grown, search.Grow(bound));
  ASSIGN_OR_RETURN(Counts counts, search.Shrink(grown));
  ASSIGN_OR_RETURN(result.at_slo, search.Evaluate(counts, spec.slo.load));
  ASSIGN_OR_RETURN(result.max_load, search.MaxLoad(counts));
  result.headroom = result.max_load / spec.slo.load;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] == 0 || internal::TotalDevices(counts) == 1) continue;
    Counts smaller = counts;
    --smaller[i];
    ASSIGN_OR_RETURN(Check check, search.Evaluate(smaller, spec.slo.load));
    result.smaller.push_back(
        SmallerSet{.counts = ByProfile(spec, smaller),
                   .removed = spec.profiles[i].name(),
                   .check = check,
                   .scenario = internal::ScenarioFor(spec, smaller, spec.slo.load)});
  }
  std::stable_sort(result.smaller.begin(), result.smaller.end(),
                   [](const SmallerSet& a, const SmallerSet& b) {
                     return a.check.attainment > b.check.attainment;
                   });
  Describe(spec, counts, result);
  result.simulations = search.simulations();
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

namespace {

absl::StatusOr<Counts> CountsOf(const PlanSpec& spec,
                                const std::map<std::string, int>& counts_by_profile) {
  Counts counts(spec.profiles.size(), 0);
  for (const auto& [name, n] : counts_by_profile) {
    auto it = std::find_if(spec.profiles.begin(), spec.profiles.end(),
                           [&name = name](const DeviceProfile& p) { return p.name() == name; });
    if (it == spec.profiles.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("counts.", name, ": not a profile of catalog.profiles"));
    }
    if (n < 0 || n > kMaxDevicesLimit) {
      return absl::InvalidArgumentError(
          absl::StrCat("counts.", name, ": must be in 0..", kMaxDevicesLimit));
    }
    counts[static_cast<size_t>(it - spec.profiles.begin())] = n;
  }
  return counts;
}

}  // namespace

absl::StatusOr<sim::Scenario> ScenarioFor(const PlanSpec& spec,
                                          const std::map<std::string, int>& counts_by_profile) {
  ASSIGN_OR_RETURN(Counts counts, CountsOf(spec, counts_by_profile));
  return internal::ScenarioFor(spec, counts, spec.slo.load);
}

absl::StatusOr<Assessment> Assess(const PlanSpec& spec,
                                  const std::map<std::string, int>& counts_by_profile) {
  ASSIGN_OR_RETURN(Counts counts, CountsOf(spec, counts_by_profile));
  Search search(spec);
  Assessment out{.counts = ByProfile(spec, counts), .devices = internal::TotalDevices(counts)};
  out.ideal_rps = internal::CapacityRatio(spec, counts) * spec.TotalRate();
  if (out.devices > 0) {
    ASSIGN_OR_RETURN(out.at_slo, search.Evaluate(counts, spec.slo.load));
    ASSIGN_OR_RETURN(out.max_load, search.MaxLoad(counts));
  }
  out.simulations = search.simulations();
  return out;
}

namespace {

nlohmann::json CheckJson(const Check& check) {
  return {{"load", check.load},      {"offered", check.offered},
          {"good", check.good},      {"attainment", check.attainment},
          {"p50_ms", check.p50_ms},  {"p99_ms", check.p99_ms},
          {"meets_slo", check.meets}};
}

}  // namespace

nlohmann::json ToJson(const PlanResult& r) {
  nlohmann::json devices = nlohmann::json::array();
  for (const PlannedDevice& d : r.device_list) {
    devices.push_back({{"node", d.node},
                       {"device", d.device},
                       {"profile", d.profile},
                       {"kind", d.kind},
                       {"utilisation", d.utilisation}});
  }
  nlohmann::json nodes = nlohmann::json::array();
  for (const PlannedNode& n : r.nodes) {
    nodes.push_back({{"name", n.name}, {"template", n.node_template}, {"devices", n.devices}});
  }
  nlohmann::json smaller = nlohmann::json::array();
  for (const SmallerSet& s : r.smaller) {
    smaller.push_back(
        {{"counts", s.counts}, {"removed", s.removed}, {"check", CheckJson(s.check)}});
  }
  return {{"name", r.name},
          {"seed", r.seed},
          {"slo", {{"attainment", r.target}, {"load", r.load}}},
          {"demand_rps", r.demand_rps},
          {"counts", r.counts},
          {"devices", r.devices},
          {"cost", r.cost},
          {"lower_bound_devices", r.lower_bound_devices},
          {"ideal_rps", r.ideal_rps},
          {"nodes", nodes},
          {"device_list", devices},
          {"at_slo", CheckJson(r.at_slo)},
          {"margin", {{"max_load", r.max_load}, {"headroom", r.headroom}}},
          {"smaller", smaller},
          {"simulations", r.simulations},
          {"wall_seconds", r.wall_seconds}};
}

nlohmann::json ToJson(const Assessment& a) {
  return {{"counts", a.counts},         {"devices", a.devices},
          {"ideal_rps", a.ideal_rps},   {"at_slo", CheckJson(a.at_slo)},
          {"max_load", a.max_load},     {"simulations", a.simulations}};
}

std::string FormatPlan(const PlanResult& r) {
  std::string out = absl::StrFormat(
      "plan %s: %d device(s), cost %.2f, for %.1f requests/s "
      "(load %.2f), SLO attainment >= %.4f\n",
      r.name, r.devices, r.cost, r.demand_rps, r.load, r.target);
  for (const auto& [profile, n] : r.counts) absl::StrAppendFormat(&out, "  %3d x %s\n", n, profile);
  absl::StrAppendFormat(&out, "nodes:\n");
  for (const PlannedNode& n : r.nodes) {
    absl::StrAppendFormat(&out, "  %-16s (%s)\n", n.name, n.node_template);
    for (const PlannedDevice& d : r.device_list) {
      if (d.node == n.name) {
        absl::StrAppendFormat(&out, "    %-18s %-5s utilisation %5.1f%%\n", d.device, d.kind,
                              100 * d.utilisation);
      }
    }
  }
  absl::StrAppendFormat(&out,
                        "predicted: attainment %.4f (%d/%d), p50 %.1f ms, p99 %.1f ms; fluid "
                        "capacity %.1f requests/s (lower bound: %d device(s))\n",
                        r.at_slo.attainment, r.at_slo.good, r.at_slo.offered, r.at_slo.p50_ms,
                        r.at_slo.p99_ms, r.ideal_rps, r.lower_bound_devices);
  absl::StrAppendFormat(&out, "margin: meets the SLO up to load %.3f (%.2fx the stated rates)\n",
                        r.max_load, r.headroom);
  for (const SmallerSet& s : r.smaller) {
    absl::StrAppendFormat(&out, "one %s fewer: attainment %.4f (%s), p99 %.1f ms\n", s.removed,
                          s.check.attainment, s.check.meets ? "meets" : "falls short",
                          s.check.p99_ms);
  }
  absl::StrAppendFormat(&out, "%d simulation(s) in %.2f s\n", r.simulations, r.wall_seconds);
  return out;
}

}  // namespace heteroaccel::plan

// Planner: the smallest (cheapest) set of catalog devices, placed into nodes, whose
// simulated SLO attainment meets the target for the cameras of a PlanSpec — what
// `heteroaccel plan` prints.
//
// The search:
//   Step 1  lower bound: the fewest devices whose fluid-LP capacity (sim::IdealThroughput,
//           the scheduler's own LP) covers the demand at the SLO's load over
//           search.max_utilisation (a set loaded to 100% queues without bound);
//   Step 2  grow: simulate (sim::Simulate, the production scheduler on a simulated
//           clock) over search.seeds seeds, pooling attainment; while it falls short,
//           add the device with the best marginal capacity per cost;
//   Step 3  shrink: try removing one device of each profile (the most expensive
//           first); keep any removal that still meets the SLO, until none does;
//   Step 4  margin: the largest load factor at which the answer still meets the SLO
//           (bisection with the simulator), and how far each one-device-smaller set
//           falls short.
// Every simulation is seeded from the spec's seed, so a plan is deterministic.
//
// Thread-safety: Plan is reentrant; results are plain values.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "plan/plan_spec.h"
#include "sim/scenario.h"

namespace heteroaccel::plan {

// One simulated check of a set at a load, pooled over the seeds.
struct Check {
  double load = 0;  // factor on the cameras' rates
  int64_t offered = 0;
  int64_t good = 0;
  double attainment = 0;         // good / offered over all seeds
  double p99_ms = 0;             // worst seed's p99 of answered requests
  double p50_ms = 0;             // worst seed's p50
  double fluid_utilisation = 0;  // load / the set's fluid-LP capacity
  // attainment >= slo.attainment; at slo.load also fluid_utilisation <= max_utilisation.
  bool meets = false;
  std::map<std::string, double> utilisation;  // "node/device" -> busy share of its slots
};

struct PlannedDevice {
  std::string node;
  std::string device;
  std::string profile;
  std::string kind;
  double utilisation = 0;  // at the SLO's load
};

struct PlannedNode {
  std::string name;
  std::string node_template;
  std::vector<std::string> devices;
};

struct SmallerSet {
  std::map<std::string, int> counts;  // by profile
  std::string removed;                // the profile one device of which was removed
  Check check;
  sim::Scenario scenario;  // the smaller set as a scenario at slo.load
};

struct PlanResult {
  std::string name;
  uint64_t seed = 0;
  double target = 0;                  // slo.attainment
  double load = 1;                    // slo.load
  double demand_rps = 0;              // the cameras' total at slo.load
  std::map<std::string, int> counts;  // profile -> devices (profiles in the plan only)
  int devices = 0;
  double cost = 0;              // devices' cost + nodes' cost
  int lower_bound_devices = 0;  // Step 1
  double ideal_rps = 0;         // the plan's fluid-LP capacity for the mix
  std::vector<PlannedNode> nodes;
  std::vector<PlannedDevice> device_list;
  Check at_slo;         // the plan at slo.load
  double max_load = 0;  // margin: largest load (factor on rates) still meeting the SLO
  double headroom = 0;  // max_load / slo.load
  // Each one-device-smaller set, the closest to the target first.
  std::vector<SmallerSet> smaller;
  int simulations = 0;
  double wall_seconds = 0;
  sim::Scenario scenario;  // the plan as a scenario at slo.load
};

// FailedPrecondition when no set within search.max_devices (and the profiles' max)
// meets the SLO, naming the best attainment reached; DeadlineExceeded when the search
// runs past search.time_limit_ms; errors of the simulator as is.
[[nodiscard]] absl::StatusOr<PlanResult> Plan(const PlanSpec& spec);

// A given set (devices by profile name) checked as Plan checks its answer: at slo.load,
// and its margin, the largest load factor at which it meets the SLO (bisected below
// slo.load when it falls short there; 0 when it fails at every load tried).
struct Assessment {
  std::map<std::string, int> counts;
  int devices = 0;
  double ideal_rps = 0;  // the set's fluid-LP capacity for the mix at load 1
  Check at_slo;
  double max_load = 0;
  int simulations = 0;
};
// InvalidArgument naming a profile the spec's catalog lacks or a count out of
// 0..kMaxDevicesLimit; DeadlineExceeded past search.time_limit_ms.
[[nodiscard]] absl::StatusOr<Assessment> Assess(const PlanSpec& spec,
                                                const std::map<std::string, int>& counts);
nlohmann::json ToJson(const Assessment& assessment);

// A set (devices by profile name) packed into nodes as Plan packs its answer, as the
// scenario at slo.load (what `--emit-scenario` writes for the answer). Errors as Assess.
[[nodiscard]] absl::StatusOr<sim::Scenario> ScenarioFor(const PlanSpec& spec,
                                                        const std::map<std::string, int>& counts);

nlohmann::json ToJson(const PlanResult& result);
// The plan for a terminal: the devices by profile, the nodes, attainment, p99,
// utilisation per device, the margin and the smaller sets.
std::string FormatPlan(const PlanResult& result);

}  // namespace heteroaccel::plan

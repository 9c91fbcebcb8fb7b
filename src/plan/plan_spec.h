// PlanSpec: what `heteroaccel plan` is asked — the cameras (the simulator's camera
// keys), the SLO, and a catalog of device profiles and node templates to choose from.
// Parsed from YAML (docs/planner.md):
//
//   name: two-types
//   seed: 1
//   slo: {attainment: 0.999, load: 1.0}   # good/offered at the cameras' rates x load
//   policy: earliest-finish               # rtt_ms, client_rtt_ms, service_overhead_ms,
//   rtt_ms: 1.0                           # queue_capacity, max_attempts: as in a sim scenario
//   search: {duration: 20s, warmup: 2s, seeds: 2, max_devices: 64, time_limit: 30s}
//   cameras:                              # exactly the simulator's cameras
//     - {name: cam, count: 10, rate: 25, mix: [face], deadline_ms: 100}
//   catalog:
//     profiles:
//       - {name: t4, kind: gpu, slots: 1, latency_ms: {face: 10}, sigma: 0.1, cost: 2}
//     nodes:                              # node templates
//       - {name: edge, accelerators: 4, cpus: 1}
//
// The simulator's parser (sim::ParseScenario) reads the scenario keys (cameras,
// policy, round trips, ...) and each profile's device keys (kind, slots, latency_ms,
// default_latency_ms, types, sigma), so a plan and a scenario can never disagree on
// them; this file reads the rest (slo, search, a profile's cost and max, the node
// templates). Every error is InvalidArgument naming the key at fault, e.g.
// "catalog.profiles[1].latency_ms.face: must be > 0".
//
// Thread-safety: plain values; the functions are reentrant.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "sim/scenario.h"

namespace heteroaccel::plan {

// A device one can buy: the simulator's emulated device (its name is the profile's
// name) plus what the planner needs to choose it.
struct DeviceProfile {
  sim::DeviceSpec device;
  double cost = 1;               // what the planner minimises
  std::optional<int> max_count;  // at most this many may be used

  const std::string& name() const { return device.name; }
  bool is_cpu() const { return device.kind == "cpu"; }
  // Mean service time of a type in milliseconds; nullopt if it does not run it.
  std::optional<double> LatencyMs(const std::string& type) const;
};

// A kind of node the devices are installed in.
struct NodeTemplate {
  std::string name;
  int accelerators = 4;               // non-CPU devices one node holds
  int cpus = 1;                       // CPU devices one node holds
  double cost = 0;                    // per node, added to the plan's cost
  std::vector<std::string> profiles;  // profiles it takes; empty: all
  bool Takes(const DeviceProfile& profile) const;
};

struct SloSpec {
  double attainment = 0.999;  // fraction of offered requests answered ok in time
  double load = 1.0;          // the rates the SLO must hold at, as a factor
};

struct SearchSpec {
  int duration_ms = 20'000;  // simulated per check
  int warmup_ms = 2'000;
  int seeds = 2;  // simulations per check; attainment pooled over them
  int max_devices = 64;
  int bisect_steps = 6;  // margin search
  // A set meets the SLO only if the demand stays under this share of its fluid
  // capacity: at 100% a queue grows without bound, which a short run may not show.
  double max_utilisation = 0.95;
  // Wall-clock bound on the whole search (0: none); past it Plan and Assess fail with
  // DeadlineExceeded, so a caller serving requests can bound what a plan costs.
  int time_limit_ms = 0;
};

struct PlanSpec {
  // The scenario every candidate is simulated in: name, seed, policy, round trips,
  // queue capacity, attempts and cameras as the plan file gives them (parsed by
  // sim::ParseScenario); nodes empty (the candidate fills them), duration and
  // warm-up from `search`.
  sim::Scenario base;
  SloSpec slo;
  SearchSpec search;
  std::vector<DeviceProfile> profiles;
  std::vector<NodeTemplate> nodes;

  // Requests/s per type at load 1 (the sum over cameras of count x rate x share).
  std::map<std::string, double> DemandByType() const;
  double TotalRate() const;
  // The tightest deadline of any camera asking for the type; nullopt if none has one.
  std::optional<double> DeadlineMs(const std::string& type) const;
};

// Limits on what a plan file may ask for, so no input makes the planner run away.
inline constexpr size_t kMaxPlanYamlBytes = 1 << 20;
inline constexpr int kMaxProfiles = 32;
inline constexpr int kMaxDevicesLimit = 512;
inline constexpr int kMaxSeeds = 16;
inline constexpr int kMaxDurationMs = 600'000;

[[nodiscard]] absl::StatusOr<PlanSpec> ParsePlanSpec(std::string_view yaml);
// NotFound when the file cannot be read; otherwise as ParsePlanSpec, the message
// prefixed with the path.
[[nodiscard]] absl::StatusOr<PlanSpec> LoadPlanSpec(const std::string& path);

}  // namespace heteroaccel::plan

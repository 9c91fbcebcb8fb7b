// CapacityQuestion: the dashboard's capacity what-if (POST /v1/plan) answered by the
// planner: "for the current request mix scaled by a growth factor, how many devices
// of which profile does the cluster need, and what margin does it have now?"
//
// The server gathers the facts (the up devices with their kinds, slots and measured
// service times, the request rate per type over the last seconds) into a
// CapacityQuestion; ParseCapacityRequest reads what the operator asks (growth,
// deadline, attainment, optional rates and catalog) from the JSON body. Answer then
//   1. builds a plan file: one open-loop Poisson camera per type at its rate with the
//      deadline, the SLO at load = growth, and a catalog: the one given, or one profile
//      per device kind of the fleet (the median measured service time per type, the
//      median slots) in node templates as large as the fleet's largest node;
//   2. assesses the fleet as it is (plan::Assess at load 1: attainment now and the
//      largest load factor it still meets the SLO at: the margin now);
//   3. plans (plan::Plan at load = growth) and says what to add or remove per profile.
// The plan file goes through plan::ParsePlanSpec, so the route and `heteroaccel plan`
// check the same keys; every simulation is short and the whole search has a time
// limit, so an answer costs at most about that limit of one thread.
//
// Thread-safety: plain values and reentrant functions.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace heteroaccel::plan {

struct FleetDevice {
  std::string node;
  std::string device;
  std::string kind;  // "gpu", "npu", "cpu", ...
  int slots = 1;
  // Measured mean service time per inference type it serves (ms); types without a
  // measurement are left out.
  std::map<std::string, double> service_ms;
};

struct CapacityQuestion {
  std::vector<FleetDevice> fleet;      // the up devices now
  std::map<std::string, double> rates;  // requests/s per type now
  double growth = 1;                    // the factor the rates are planned at
  double deadline_ms = 1000;            // every type's deadline
  double attainment = 0.99;             // the SLO: good / offered
  double sigma = 0.2;                   // lognormal spread assumed around the measured means
  nlohmann::json catalog;               // a plan file's catalog; null: the fleet's profiles
  int time_limit_ms = 5000;             // the whole answer (assessment and plan)
};

// Bounds on what a request may ask for.
inline constexpr size_t kMaxCapacityRequestBytes = 64 * 1024;
inline constexpr double kMaxGrowth = 20;
inline constexpr size_t kMaxQuestionTypes = 32;
inline constexpr size_t kMaxFleetDevices = 512;

// Reads {"growth": 1.5, "deadline_ms": 500, "attainment": 0.99, "sigma": 0.2,
// "rates": {"face": 40}, "catalog": {"profiles": [...], "nodes": [...]}} (every key
// optional) into `question` (rates given replace the measured ones). InvalidArgument
// naming the key at fault for bad JSON, unknown keys, wrong types and values out of
// bounds.
[[nodiscard]] absl::Status ParseCapacityRequest(std::string_view body, CapacityQuestion& question);

// The plan file (as JSON, which is YAML) the question is answered with, at load
// `load`; FailedPrecondition when there is no traffic to plan for or no device of
// the fleet has measured any type asked for.
[[nodiscard]] absl::StatusOr<nlohmann::json> PlanFileFor(const CapacityQuestion& question,
                                                         bool fleet_catalog, double load);

// {"growth", "slo": {"attainment", "deadline_ms", "load"}, "rates", "demand_rps",
//  "current": {counts, devices, ideal_rps, at_slo, max_load}, "margin_now",
//  "plan": plan::ToJson of the answer, "add": {profile: +/-n}, "devices_to_add",
//  "catalog": the catalog planned with, "wall_seconds"}.
// Errors: as PlanFileFor, plan::ParsePlanSpec (InvalidArgument naming the key of a
// given catalog), plan::Plan (FailedPrecondition when nothing within the limits
// meets the SLO, DeadlineExceeded past the time limit).
[[nodiscard]] absl::StatusOr<nlohmann::json> Answer(const CapacityQuestion& question);

}  // namespace heteroaccel::plan

// Capacity arithmetic of the planner, without simulation: the fluid-LP capacity of a
// multiset of catalog devices, the fewest devices whose capacity covers the demand
// (the search's lower bound), the next device to add, and packing devices into nodes.
//
// A device counts for a type in the LP only if its mean service time plus the round
// trips fits the tightest deadline any camera sets for that type: a device that can
// never answer in time adds no useful capacity.
//
// Pure functions over a PlanSpec; thread-compatible.
#pragma once

#include <string>
#include <vector>

#include "plan/plan_spec.h"
#include "sim/scenario.h"

namespace heteroaccel::plan::internal {

// How many devices of each catalog profile (indexed like PlanSpec::profiles).
using Counts = std::vector<int>;

int TotalDevices(const Counts& counts);
double TotalCost(const PlanSpec& spec, const Counts& counts);

// The largest factor by which the cameras' rates (at load 1) could be multiplied and
// still be served in the fluid model (sim::IdealThroughput over the total rate).
double CapacityRatio(const PlanSpec& spec, const Counts& counts);

// The fewest devices whose CapacityRatio reaches `load`; among sets of that size the
// cheapest (then the one with the most capacity). Sets are enumerated while that
// stays small; beyond, the greedy growth of NextDevice from nothing. Empty when no
// set within search.max_devices (and the profiles' max) reaches it.
Counts LowerBound(const PlanSpec& spec, double load);

// The profile whose next device adds the most capacity per cost (ties: the faster
// profile for the demand, then the first); -1 when every profile is at its max.
int NextDevice(const PlanSpec& spec, const Counts& counts);

// The devices placed into nodes: first fit in profile order, a new node from the
// first template that takes the device. Node names "<template>-<i>", device names
// "<profile>-<j>".
std::vector<sim::NodeSpec> PackNodes(const PlanSpec& spec, const Counts& counts);

// The spec's base scenario with `counts` installed and every camera's rate x load;
// cameras that do not set `inflight` get 0 (true open loop).
sim::Scenario ScenarioFor(const PlanSpec& spec, const Counts& counts, double load);

// "2 x t4 + 1 x cpu" (profiles with a count only).
std::string Describe(const PlanSpec& spec, const Counts& counts);

}  // namespace heteroaccel::plan::internal

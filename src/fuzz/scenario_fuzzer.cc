// libFuzzer target: bytes as a `heteroaccel sim` scenario and as a `heteroaccel
// plan` file (YAML), through their one parsers (sim/scenario, plan/plan_spec),
// and small scenarios through the simulator itself. Properties checked beyond
// "never crashes, never throws":
//   - a parsed scenario round-trips: ParseScenario(ToYaml(s)) == s;
//   - with up to 4,096 devices, its ideal throughput is finite and not negative,
//     and AtLoad either scales it or says why (InvalidArgument);
//   - a scenario small enough to simulate quickly (few devices, a few hundred
//     requests, shortened to at most 2 simulated seconds) simulates or is
//     refused with InvalidArgument, and every request arriving in its window
//     ended exactly once (good, late, expired, refused, lost or unfinished);
//   - a plan file that parses holds a scenario whose devices are empty.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "plan/plan_spec.h"
#include "sim/scenario.h"
#include "sim/simulator.h"

namespace {

namespace sim = heteroaccel::sim;

void Check(bool condition) {
  if (!condition) std::abort();
}

size_t DeviceCount(const sim::Scenario& s) {
  size_t devices = 0;
  for (const sim::NodeSpec& node : s.nodes) {
    devices += static_cast<size_t>(node.count) * node.devices.size();
  }
  return devices;
}

// Whether the scenario, shortened to at most 2 simulated seconds, sends few
// enough requests and has few enough devices to simulate within the fuzzer's
// per-input budget.
bool SmallEnough(const sim::Scenario& s) {
  if (DeviceCount(s) > 32) return false;
  double requests = 0;
  for (const sim::CameraSpec& camera : s.cameras) {
    requests += camera.rate * camera.count * 2.0;
  }
  return requests <= 500 && s.faults.size() <= 16;
}

void CheckScenario(sim::Scenario scenario) {
  const auto again = sim::ParseScenario(sim::ToYaml(scenario));
  Check(again.ok() && *again == scenario);
  // The scheduler that computes the ideal holds every device: beyond a few
  // thousand (up to the parser's 100,000), an input costs seconds under the
  // sanitizers and adds nothing the smaller ones do not reach.
  if (DeviceCount(scenario) > 4096) return;
  const double ideal = sim::IdealThroughput(scenario);
  Check(std::isfinite(ideal) && ideal >= 0);
  if (auto scaled = sim::AtLoad(scenario, 1.5); !scaled.ok()) {
    Check(scaled.status().code() == absl::StatusCode::kInvalidArgument);
  }
  if (!SmallEnough(scenario)) return;
  using std::chrono::milliseconds;
  scenario.duration = std::min(scenario.duration, milliseconds(1'500));
  scenario.warmup = std::min(scenario.warmup, milliseconds(500));
  const auto report = sim::Simulate(scenario);
  if (!report.ok()) {
    Check(report.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  const sim::SimReport& r = *report;
  Check(r.offered == r.good + r.late + r.expired + r.refused + r.lost_retried + r.unfinished);
  Check(r.attainment >= 0 && r.attainment <= 1);
  Check(r.jain_attainment >= 0 && r.jain_attainment <= 1 + 1e-9);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto scenario = sim::ParseScenario(text); scenario.ok()) {
    CheckScenario(*std::move(scenario));
  }
  if (auto plan = heteroaccel::plan::ParsePlanSpec(text); plan.ok()) {
    for (const sim::NodeSpec& node : plan->base.nodes) Check(node.devices.empty());
  }
  return 0;
}

// The SLO targets of issue 14 (docs/scheduling.md, "Targets, measured"), held by
// the simulator on the scenarios kept in examples/sim (the paper's cluster, a
// cluster whose devices are each best at a different type, bursty cameras, the
// GPU slowing 2x mid-run, one camera at 4x the others' rate), each figure a
// ratio to its limit in one run:
//   - attainment >= 99.9% at 0.8 x the ideal load and >= 99% at 0.9 x;
//   - goodput >= 90% of the ideal at 1.5 x and 2 x (no collapse);
//   - at saturation (no deadlines, 1.3 x offered, queues of 64) throughput >= 97%
//     of the ideal and >= every other policy's, with a lower p99;
//   - one camera at 4 x: Jain's index over the cameras' attainment >= 0.95.
// The ideal is sim::IdealThroughput (the fluid LP at the devices' true means,
// after every slowdown). Each run prints its line, the table BENCHMARKS.md keeps.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "scheduler/types.h"
#include "sim/simulator.h"

namespace heteroaccel::sim {
namespace {

const std::vector<std::string>& SloScenarios() {
  static const std::vector<std::string> kNames = {"paper", "specialised", "bursty", "gpu-slows",
                                                  "heavy-camera"};
  return kNames;
}

Scenario Load(const std::string& name) {
  absl::StatusOr<Scenario> s =
      LoadScenario(std::string(HETEROACCEL_EXAMPLES_SIM_DIR) + "/" + name + ".yaml");
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : Scenario{};
}

SimReport RunAt(const Scenario& base, double load, const SimOptions& options = {}) {
  absl::StatusOr<Scenario> s = AtLoad(base, load);
  EXPECT_TRUE(s.ok()) << s.status();
  if (!s.ok()) return {};
  absl::StatusOr<SimReport> r = Simulate(*s, options);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return {};
  const double ideal = r->ideal_rps;
  std::printf(
      "  %-13s %-15s load %4.2f: attainment %7.3f%%  goodput %5.1f%% of ideal %6.1f/s  "
      "throughput %5.1f%%  p50 %8.1f ms  p99 %8.1f ms  (expired %lld, refused %lld, late %lld)\n",
      base.name.c_str(), std::string(scheduler::PolicyName(s->policy)).c_str(), load,
      100 * r->attainment, 100 * r->goodput_rps / ideal, ideal,
      100 * r->bench.throughput_rps / ideal, r->bench.latency.p50, r->bench.latency.p99,
      static_cast<long long>(r->expired), static_cast<long long>(r->refused),
      static_cast<long long>(r->late));
  std::fflush(stdout);
  return *r;
}

// The targets: 99.9% at 80% of the ideal load, 99% at 90%.
TEST(SloTest, AttainmentBelowTheIdealLoad) {
  for (const std::string& name : SloScenarios()) {
    const Scenario s = Load(name);
    EXPECT_GE(RunAt(s, 0.8).attainment, 0.999) << name;
    EXPECT_GE(RunAt(s, 0.9).attainment, 0.99) << name;
  }
}

// The target: goodput >= 90% of the ideal at 1.5x and 2x.
TEST(SloTest, GoodputUnderOverload) {
  for (const std::string& name : SloScenarios()) {
    const Scenario s = Load(name);
    for (const double load : {1.5, 2.0}) {
      const SimReport r = RunAt(s, load);
      ASSERT_GT(r.ideal_rps, 0) << name;
      EXPECT_GE(r.goodput_rps / r.ideal_rps, 0.9) << name << " at " << load;
    }
  }
}

// Earliest-finish without steering by the fluid ideal falls short of it on the
// specialised cluster: steering is what reaches it.
TEST(SloTest, SteeringIsWhatReachesTheIdealOnSpecialisedDevices) {
  const Scenario s = Saturated(Load("specialised"), scheduler::PolicyKind::kEarliestFinish);
  SimOptions greedy_options;
  greedy_options.lp_steering = false;
  const SimReport greedy = RunAt(s, 1.3, greedy_options);
  const SimReport steered = RunAt(s, 1.3);
  EXPECT_LT(greedy.bench.throughput_rps / greedy.ideal_rps, 0.85);
  EXPECT_GE(steered.bench.throughput_rps / steered.ideal_rps, 0.97);
}

// The target: at saturation earliest-finish completes >= 97% of the ideal
// and at least what every other policy completes (1% for the noise of the
// measured window), with a lower p99, at 1.3, 1.5 and 2x the ideal.
TEST(SloTest, SaturationThroughputAndTail) {
  for (const std::string& name : SloScenarios()) {
    const Scenario base = Load(name);
    for (const double load : {1.3, 1.5, 2.0}) {
      std::map<scheduler::PolicyKind, SimReport> results;
      for (const scheduler::PolicyKind policy :
           {scheduler::PolicyKind::kEarliestFinish, scheduler::PolicyKind::kIdleFirst,
            scheduler::PolicyKind::kStatic}) {
        results[policy] = RunAt(Saturated(base, policy), load);
      }
      const SimReport& ef = results[scheduler::PolicyKind::kEarliestFinish];
      ASSERT_GT(ef.ideal_rps, 0) << name;
      EXPECT_GE(ef.bench.throughput_rps / ef.ideal_rps, 0.97) << name << " at " << load;
      for (const auto& [policy, r] : results) {
        if (policy == scheduler::PolicyKind::kEarliestFinish) continue;
        const std::string vs =
            absl::StrCat(name, " at ", load, " vs ", std::string(scheduler::PolicyName(policy)));
        EXPECT_GE(ef.bench.throughput_rps, 0.99 * r.bench.throughput_rps) << vs;
        EXPECT_LT(ef.bench.latency.p99, r.bench.latency.p99) << vs;
      }
    }
  }
}

// One camera at 4x the others' rate, at 1.2x the ideal load. Each light camera
// asks less than a fifth of the cluster and keeps >= 99% attainment; the heavy
// one gets the rest. Jain's index over the cameras' attainment (the issue's
// measure) >= 0.95, and over goodput relative to the max-min fair share >= 0.95.
// Without tenants (every request untagged) the heavy camera takes the others'
// share in proportion, which the light cameras' floor catches: fair queueing is
// what keeps it.
TEST(SloTest, HeavyCameraDoesNotTakeTheOthersShare) {
  const Scenario base = Load("heavy-camera");
  for (const bool tagged : {true, false}) {
    SimOptions options;
    options.camera_tenants = tagged;
    absl::StatusOr<Scenario> s = AtLoad(base, 1.2);
    ASSERT_TRUE(s.ok()) << s.status();
    const SimReport r = RunAt(base, 1.2, options);
    ASSERT_GT(r.ideal_rps, 0);
    // Max-min fair shares of the ideal rate, by camera.
    std::map<std::string, double> demand;
    for (const CameraSpec& c : s->cameras) {
      for (const std::string& camera : c.Names()) demand[camera] = c.rate;
    }
    std::map<std::string, double> share;
    std::vector<std::string> open;
    for (const auto& [camera, rate] : demand) open.push_back(camera);
    double left = r.ideal_rps;
    while (!open.empty() && left > 1e-9) {
      const double each = left / static_cast<double>(open.size());
      std::vector<std::string> still;
      for (const std::string& camera : open) {
        const double give = std::min(each, demand[camera] - share[camera]);
        share[camera] += give;
        left -= give;
        if (demand[camera] - share[camera] > 1e-9) still.push_back(camera);
      }
      if (still.size() == open.size()) break;
      open = still;
    }
    const double seconds = r.bench.measured_s;
    std::vector<double> attainment, relative;
    double light_min = 1;
    std::printf("  heavy-camera at 1.2x, %s:", tagged ? "cameras as tenants" : "untagged");
    for (const auto& [camera, outcome] : r.cameras) {
      attainment.push_back(outcome.attainment());
      relative.push_back(static_cast<double>(outcome.good) / seconds / share[camera]);
      if (camera != "heavy") light_min = std::min(light_min, outcome.attainment());
      std::printf(" %s %.1f%%", camera.c_str(), 100 * outcome.attainment());
    }
    const double jain = JainIndex(attainment);
    const double jain_share = JainIndex(relative);
    std::printf("; Jain(attainment) %.3f, Jain(goodput / fair share) %.3f\n", jain, jain_share);
    ASSERT_EQ(attainment.size(), 5u);
    EXPECT_NEAR(jain, r.jain_attainment, 1e-12);  // summed in another order
    if (tagged) {
      EXPECT_GE(jain, 0.95);
      EXPECT_GE(jain_share, 0.95);
      EXPECT_GE(light_min, 0.99);
    } else {
      EXPECT_LT(light_min, 0.9) << "without tenants the heavy camera takes the others' share";
    }
  }
}

}  // namespace
}  // namespace heteroaccel::sim

// The capacity planner against the real system: for three plans (one profile; a
// catalog where cheap single-type devices beat a general GPU; a mix of a GPU and a
// face-only NPU), `plan::Plan` answers with N devices, and the same cameras are then
// played by loadgen on a real server with real agents (emulated devices holding for
// the profiles' lognormal service times), first on the planned set of N devices,
// then on the one-device-smaller set the planner found closest to meeting the SLO.
// The planned set must meet the plan's attainment target on the real cluster; the
// smallest count that meets it there (N, or N-1 when the smaller set passes too, in
// which case N-2 is played to bound it) must be within one device of N.
//
// Every camera has the same rate, list mix, deadline and in-flight streams, which
// is what `heteroaccel bench` plays (tests/sim/real_cluster.h); the cameras set
// `inflight`, so the planner simulates exactly the streams loadgen opens. Service
// times are tens of milliseconds at tens of requests per second, cheap for the
// machine: the emulated holds are sleeps.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "plan/planner.h"
#include "real_cluster.h"

namespace heteroaccel::testing {
namespace {

// One profile at 40 ms; 60 requests/s of faces: 2.4 devices of work, so 3 devices
// at 80% and 2 at 120%.
constexpr char kSingle[] = R"(
name: e2e-single
seed: 3
slo: {attainment: 0.99}
search: {duration: 12s, warmup: 2s, seeds: 2}
rtt_ms: 1.0
client_rtt_ms: 0.5
cameras:
  - {name: cam, count: 6, rate: 10, mix: [face], inflight: 4, deadline_ms: 250}
catalog:
  profiles:
    - {name: acc, kind: gpu, latency_ms: {face: 40}, sigma: 0.2}
)";

// Faces and text; a general GPU (cost 4) against a face-only NPU and a text-only
// FPGA (cost 1 each): 30/s of each type.
constexpr char kSpecialised[] = R"(
name: e2e-specialised
seed: 5
slo: {attainment: 0.99}
search: {duration: 12s, warmup: 2s, seeds: 2}
rtt_ms: 1.0
client_rtt_ms: 0.5
cameras:
  - {name: desk, count: 6, rate: 10, mix: [face, text], inflight: 4, deadline_ms: 250}
catalog:
  profiles:
    - {name: general, kind: gpu, latency_ms: {face: 25, text: 25}, sigma: 0.2, cost: 4}
    - {name: face-npu, kind: npu, latency_ms: {face: 20}, sigma: 0.2, cost: 1}
    - {name: text-fpga, kind: fpga, latency_ms: {text: 40}, sigma: 0.2, cost: 1}
  nodes:
    - {name: box, accelerators: 2, cpus: 0}
)";

// Faces and poses, 48/s each: a GPU runs both (cost 2), an NPU runs faces only,
// faster (cost 1).
constexpr char kMixed[] = R"(
name: e2e-mixed
seed: 7
slo: {attainment: 0.99}
search: {duration: 12s, warmup: 2s, seeds: 2}
rtt_ms: 1.0
client_rtt_ms: 0.5
cameras:
  - {name: gate, count: 12, rate: 8, mix: [face, pose], inflight: 4, deadline_ms: 250}
catalog:
  profiles:
    - {name: gpu, kind: gpu, latency_ms: {face: 25, pose: 30}, sigma: 0.2, cost: 2}
    - {name: npu, kind: npu, latency_ms: {face: 15}, sigma: 0.2, cost: 1}
  nodes:
    - {name: edge, accelerators: 2, cpus: 0}
)";

constexpr auto kRealWarmup = std::chrono::seconds(2);
constexpr auto kRealDuration = std::chrono::seconds(10);

std::string Counts(const std::map<std::string, int>& counts) {
  std::vector<std::string> parts;
  for (const auto& [profile, n] : counts) parts.push_back(absl::StrFormat("%d x %s", n, profile));
  return absl::StrJoin(parts, " + ");
}

int Total(const std::map<std::string, int>& counts) {
  int n = 0;
  for (const auto& [profile, count] : counts) n += count;
  return n;
}

struct RealRun {
  double attainment = 0;
  double p99_ms = 0;
  double throughput_rps = 0;
  uint64_t requests = 0;
  bool meets = false;
};

// Starts `scenario`'s cluster, plays its cameras for kRealDuration after
// kRealWarmup, and stops it.
absl::StatusOr<RealRun> PlayOnRealCluster(sim::Scenario scenario, double target) {
  scenario.warmup = kRealWarmup;
  scenario.duration = kRealDuration;
  absl::StatusOr<std::unique_ptr<RealCluster>> cluster = RealCluster::Start(scenario);
  if (!cluster.ok()) return cluster.status();
  absl::StatusOr<loadgen::BenchReport> report = (*cluster)->Run(scenario);
  if (!report.ok()) {
    return absl::Status(report.status().code(),
                        absl::StrCat(report.status().message(), "\n", (*cluster)->Logs()));
  }
  return RealRun{.attainment = report->attainment,
                 .p99_ms = report->latency.p99,
                 .throughput_rps = report->throughput_rps,
                 .requests = report->requests,
                 .meets = report->requests > 0 && report->attainment >= target};
}

std::string Describe(const std::string& what, const std::map<std::string, int>& counts,
                     const RealRun& run) {
  return absl::StrFormat(
      "%s (%s, %d device(s)): real attainment %.4f over %d requests, p99 %.1f ms, "
      "%.1f req/s: %s",
      what, Counts(counts), Total(counts), run.attainment, run.requests, run.p99_ms,
      run.throughput_rps, run.meets ? "meets" : "falls short");
}

// The set one device smaller than `counts`, removing from `profile` when it has one,
// else from the profile with the most devices.
std::map<std::string, int> OneFewer(std::map<std::string, int> counts, const std::string& profile) {
  auto it = counts.find(profile);
  if (it == counts.end() || it->second == 0) {
    it = std::max_element(counts.begin(), counts.end(),
                          [](const auto& a, const auto& b) { return a.second < b.second; });
  }
  if (--it->second == 0) counts.erase(it);
  return counts;
}

class PlanE2eTest : public ::testing::TestWithParam<std::pair<const char*, const char*>> {};

TEST_P(PlanE2eTest, PlannedCountIsWithinOneOfTheSmallestTheRealClusterNeeds) {
  if (!std::filesystem::exists(HeteroaccelBinary())) {
    GTEST_SKIP() << "no heteroaccel binary at " << HeteroaccelBinary();
  }
  absl::StatusOr<plan::PlanSpec> spec = plan::ParsePlanSpec(GetParam().second);
  ASSERT_TRUE(spec.ok()) << spec.status();
  absl::StatusOr<plan::PlanResult> planned = plan::Plan(*spec);
  ASSERT_TRUE(planned.ok()) << planned.status();
  const int n = planned->devices;
  const double target = planned->target;
  std::printf("%s: plan %s (%d device(s)), predicted attainment %.4f, p99 %.1f ms, margin "
              "%.2fx; %d simulation(s) in %.2f s\n",
              planned->name.c_str(), Counts(planned->counts).c_str(), n,
              planned->at_slo.attainment, planned->at_slo.p99_ms, planned->headroom,
              planned->simulations, planned->wall_seconds);
  std::fflush(stdout);

  // The planned set: the SLO must hold on the real cluster.
  absl::StatusOr<RealRun> full = PlayOnRealCluster(planned->scenario, target);
  ASSERT_TRUE(full.ok()) << full.status();
  const std::string full_line = Describe("planned", planned->counts, *full);
  std::printf("  %s\n", full_line.c_str());
  std::fflush(stdout);
  ::testing::Test::RecordProperty("planned", full_line);
  ASSERT_TRUE(full->meets) << full_line;
  int smallest = n;

  // One device fewer: the set the planner found closest to meeting the SLO.
  if (n > 1) {
    ASSERT_FALSE(planned->smaller.empty());
    const plan::SmallerSet& fewer = planned->smaller.front();
    absl::StatusOr<RealRun> minus_one = PlayOnRealCluster(fewer.scenario, target);
    ASSERT_TRUE(minus_one.ok()) << minus_one.status();
    const std::string line = absl::StrFormat(
        "%s (simulated attainment %.4f)", Describe("one fewer", fewer.counts, *minus_one),
        fewer.check.attainment);
    std::printf("  %s\n", line.c_str());
    std::fflush(stdout);
    ::testing::Test::RecordProperty("one_fewer", line);
    if (minus_one->meets) {
      smallest = n - 1;
      // The real cluster managed with one fewer: bound it from below with two fewer.
      if (n > 2) {
        const std::map<std::string, int> two_fewer = OneFewer(fewer.counts, fewer.removed);
        absl::StatusOr<sim::Scenario> scenario = plan::ScenarioFor(*spec, two_fewer);
        ASSERT_TRUE(scenario.ok()) << scenario.status();
        absl::StatusOr<RealRun> minus_two = PlayOnRealCluster(*scenario, target);
        ASSERT_TRUE(minus_two.ok()) << minus_two.status();
        const std::string line2 = Describe("two fewer", two_fewer, *minus_two);
        std::printf("  %s\n", line2.c_str());
        ::testing::Test::RecordProperty("two_fewer", line2);
        if (minus_two->meets) smallest = n - 2;
      }
    }
  }
  std::printf("  %s: planned %d, smallest meeting the SLO on the real cluster %s%d\n",
              planned->name.c_str(), n, smallest < n - 1 ? "<= " : "", smallest);
  std::fflush(stdout);
  EXPECT_LE(std::abs(smallest - n), 1)
      << "the planner's " << n << " device(s) against " << smallest << " on the real cluster";
}

INSTANTIATE_TEST_SUITE_P(Cases, PlanE2eTest,
                         ::testing::Values(std::make_pair("single", kSingle),
                                           std::make_pair("specialised", kSpecialised),
                                           std::make_pair("mixed", kMixed)),
                         [](const auto& param_info) { return std::string(param_info.param.first); });

}  // namespace
}  // namespace heteroaccel::testing

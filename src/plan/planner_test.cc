#include "plan/planner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sim/simulator.h"

namespace heteroaccel::plan {
namespace {

using ::testing::HasSubstr;

PlanSpec Parse(const std::string& yaml) {
  auto spec = ParsePlanSpec(yaml);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.ok() ? *spec : PlanSpec{};
}

// One profile at a constant 10 ms, 250 requests/s, 100 ms deadline: 2 devices are
// overloaded (125%), 3 run at 83% and meet it; the fluid capacity of 3 is 1.2x.
constexpr char kSingle[] = R"(
name: hand
seed: 1
search: {duration: 10s, warmup: 1s, seeds: 2}
cameras: [{name: cam, count: 10, rate: 25, mix: [face], deadline_ms: 100}]
catalog: {profiles: [{name: acc, kind: gpu, latency_ms: {face: 10}}]}
)";

TEST(PlannerTest, SingleTypeCaseSolvedByHand) {
  auto result = Plan(Parse(kSingle));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->devices, 3);
  EXPECT_EQ(result->counts.at("acc"), 3);
  EXPECT_EQ(result->lower_bound_devices, 3);
  EXPECT_TRUE(result->at_slo.meets);
  EXPECT_GE(result->at_slo.attainment, 0.999);
  EXPECT_NEAR(result->ideal_rps, 300, 1e-3);
  // The margin: close to, never above, the fluid 1.2x.
  EXPECT_GT(result->headroom, 1.1);
  EXPECT_LE(result->headroom, 1.2 + 1e-9);
  ASSERT_EQ(result->smaller.size(), 1u);
  EXPECT_FALSE(result->smaller[0].check.meets);
  EXPECT_LT(result->smaller[0].check.attainment, 0.99);
  ASSERT_EQ(result->device_list.size(), 3u);
  for (const PlannedDevice& d : result->device_list) {
    EXPECT_NEAR(d.utilisation, 250.0 * 0.010 / 3, 0.05) << d.device;
  }
  ASSERT_EQ(result->nodes.size(), 1u);  // the default template holds 4 accelerators
  EXPECT_EQ(result->nodes[0].name, "node-0");
}

TEST(PlannerTest, TheAnswerMeetsTheTargetAndOneDeviceFewerDoesNot) {
  auto result = Plan(Parse(kSingle));
  ASSERT_TRUE(result.ok()) << result.status();
  // Checked independently of the planner's own checks: other seeds, longer runs.
  sim::Scenario scenario = result->scenario;
  scenario.seed = 77;
  scenario.duration = std::chrono::seconds(30);
  auto full = sim::Simulate(scenario);
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_GE(full->attainment, 0.999);
  scenario.nodes[0].devices.pop_back();
  auto smaller = sim::Simulate(scenario);
  ASSERT_TRUE(smaller.ok()) << smaller.status();
  EXPECT_LT(smaller->attainment, 0.999);
}

TEST(PlannerTest, CheaperSpecialisedDevicesWin) {
  auto result = Plan(Parse(R"(
search: {duration: 10s, warmup: 1s, seeds: 2}
cameras:
  - {name: cam, count: 4, rate: 25, mix: [face], deadline_ms: 200}
  - {name: doc, count: 4, rate: 25, mix: [ocr], deadline_ms: 200}
catalog:
  profiles:
    - {name: general, kind: gpu, latency_ms: {face: 10, ocr: 10}, sigma: 0.2, cost: 4}
    - {name: face-npu, kind: npu, latency_ms: {face: 5}, sigma: 0.2, cost: 1}
    - {name: ocr-vpu, kind: vpu, latency_ms: {ocr: 10}, sigma: 0.2, cost: 1}
  nodes: [{name: box, accelerators: 2, cpus: 0}]
)"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->counts.count("general"), 0u) << FormatPlan(*result);
  EXPECT_EQ(result->counts.at("face-npu"), 1);
  EXPECT_EQ(result->counts.at("ocr-vpu"), 2);  // 100 ocr/s at 10 ms: one is saturated
  EXPECT_LT(result->cost, 8);                  // two general devices would cost 8
  EXPECT_TRUE(result->at_slo.meets);
  for (const SmallerSet& s : result->smaller) EXPECT_FALSE(s.check.meets) << s.removed;
  EXPECT_EQ(result->nodes.size(), 2u);  // two accelerators per box
}

TEST(PlannerTest, DeterministicForASeed) {
  PlanSpec spec = Parse(kSingle);
  auto a = Plan(spec);
  auto b = Plan(spec);
  ASSERT_TRUE(a.ok() && b.ok());
  nlohmann::json ja = ToJson(*a), jb = ToJson(*b);
  ja.erase("wall_seconds");
  jb.erase("wall_seconds");
  EXPECT_EQ(ja, jb);
}

TEST(PlannerTest, SaysWhenNoSetIsSmallEnough) {
  auto result = Plan(Parse(R"(
search: {duration: 5s, warmup: 1s, seeds: 1, max_devices: 2}
cameras: [{name: cam, count: 10, rate: 25, mix: [face]}]
catalog: {profiles: [{name: acc, kind: gpu, latency_ms: {face: 10}}]}
)"));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("search.max_devices"));
}

TEST(PlannerTest, FormatsAndSerialisesThePlan) {
  auto result = Plan(Parse(kSingle));
  ASSERT_TRUE(result.ok()) << result.status();
  const std::string text = FormatPlan(*result);
  EXPECT_THAT(text, HasSubstr("3 x acc"));
  EXPECT_THAT(text, HasSubstr("margin"));
  EXPECT_THAT(text, HasSubstr("one acc fewer"));
  nlohmann::json json = ToJson(*result);
  EXPECT_EQ(json["devices"], 3);
  EXPECT_EQ(json["device_list"].size(), 3u);
  EXPECT_TRUE(json["at_slo"]["meets_slo"].get<bool>());
  // The scenario of the answer reads back through the simulator's parser.
  auto scenario = sim::ParseScenario(sim::ToYaml(result->scenario));
  ASSERT_TRUE(scenario.ok()) << scenario.status();
  EXPECT_EQ(*scenario, result->scenario);
}

TEST(PlannerTest, AssessGivesTheMarginOfAGivenSet) {
  const PlanSpec spec = Parse(kSingle);
  // Three devices: fluid capacity 1.2x the rates, so the margin is above 1.1, at most 1.2.
  auto three = Assess(spec, {{"acc", 3}});
  ASSERT_TRUE(three.ok()) << three.status();
  EXPECT_TRUE(three->at_slo.meets);
  EXPECT_GT(three->max_load, 1.1);
  EXPECT_LE(three->max_load, 1.2 + 1e-9);
  EXPECT_NEAR(three->ideal_rps, 300, 1e-3);
  // Two devices (125% loaded) fall short: the margin is the load they still meet, < 1.
  auto two = Assess(spec, {{"acc", 2}});
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_FALSE(two->at_slo.meets);
  EXPECT_GT(two->max_load, 0.5);
  EXPECT_LT(two->max_load, 0.8 + 1e-9);  // 2 devices: 200 of 250 requests/s at most
  auto unknown = Assess(spec, {{"tpu", 1}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("counts.tpu"));
}

TEST(PlannerTest, ScenarioForPacksASetLikeThePlan) {
  const PlanSpec spec = Parse(kSingle);
  auto planned = Plan(spec);
  ASSERT_TRUE(planned.ok()) << planned.status();
  auto scenario = ScenarioFor(spec, planned->counts);
  ASSERT_TRUE(scenario.ok()) << scenario.status();
  EXPECT_EQ(*scenario, planned->scenario);
  ASSERT_EQ(planned->smaller.size(), 1u);
  EXPECT_EQ(planned->smaller[0].scenario.nodes[0].devices.size(), 2u);
}

TEST(PlannerTest, StopsAtItsTimeLimit) {
  PlanSpec spec = Parse(kSingle);
  spec.search.duration_ms = 600'000;  // each simulation plays 150,000 requests
  spec.search.time_limit_ms = 1;
  auto result = Plan(spec);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("search.time_limit"));
}

}  // namespace
}  // namespace heteroaccel::plan

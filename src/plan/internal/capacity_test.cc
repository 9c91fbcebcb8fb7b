#include "plan/internal/capacity.h"

#include <gtest/gtest.h>

namespace heteroaccel::plan::internal {
namespace {

PlanSpec Parse(const std::string& yaml) {
  auto spec = ParsePlanSpec(yaml);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.ok() ? *spec : PlanSpec{};
}

// One profile at 10 ms, 250 requests/s: 2 devices serve 200/s, 3 serve 300/s.
constexpr char kSingle[] = R"(
cameras: [{name: cam, count: 10, rate: 25, mix: [face], deadline_ms: 100}]
catalog: {profiles: [{name: acc, kind: gpu, latency_ms: {face: 10}}]}
)";

TEST(CapacityTest, RatioIsTheFluidCapacityOverTheDemand) {
  PlanSpec spec = Parse(kSingle);
  EXPECT_NEAR(CapacityRatio(spec, {2}), 0.8, 1e-6);
  EXPECT_NEAR(CapacityRatio(spec, {3}), 1.2, 1e-6);
  EXPECT_EQ(CapacityRatio(spec, {0}), 0);
}

TEST(CapacityTest, LowerBoundOfTheHandCase) {
  PlanSpec spec = Parse(kSingle);
  EXPECT_EQ(LowerBound(spec, 1.0), Counts({3}));
  EXPECT_EQ(LowerBound(spec, 1.25), Counts({4}));
}

TEST(CapacityTest, DevicesThatMissTheDeadlineAddNothing) {
  PlanSpec spec = Parse(R"(
cameras: [{name: cam, rate: 50, mix: [face], deadline_ms: 30}]
catalog:
  profiles:
    - {name: slow, kind: cpu, slots: 8, latency_ms: {face: 40}}
    - {name: fast, kind: gpu, latency_ms: {face: 10}}
)");
  EXPECT_EQ(CapacityRatio(spec, {4, 0}), 0);
  EXPECT_EQ(LowerBound(spec, 1.0), Counts({0, 1}));
  EXPECT_EQ(NextDevice(spec, {0, 1}), 1);
}

// Specialised devices (face-only, ocr-only) at a quarter of the general one's cost.
constexpr char kMixed[] = R"(
cameras:
  - {name: cam, count: 4, rate: 25, mix: [face]}
  - {name: doc, count: 4, rate: 25, mix: [ocr]}
catalog:
  profiles:
    - {name: general, kind: gpu, latency_ms: {face: 10, ocr: 10}, cost: 4}
    - {name: face-npu, kind: npu, latency_ms: {face: 5}, cost: 1}
    - {name: ocr-vpu, kind: vpu, latency_ms: {ocr: 10}, cost: 1}
  nodes: [{name: box, accelerators: 2, cpus: 0}]
)";

TEST(CapacityTest, LowerBoundPrefersTheCheaperSetOfTheFewestDevices) {
  PlanSpec spec = Parse(kMixed);
  // 100 face/s + 100 ocr/s: two devices (general x2 = 200/s) cover it; so do
  // face-npu + ocr-vpu (200/s face, 100/s ocr), which costs 2 instead of 8.
  EXPECT_EQ(LowerBound(spec, 1.0), Counts({0, 1, 1}));
  // More ocr is the bottleneck: the next device is the cheap ocr one.
  EXPECT_EQ(NextDevice(spec, {0, 1, 1}), 2);
}

TEST(CapacityTest, MaxCountIsRespected) {
  PlanSpec spec = Parse(R"(
cameras: [{name: cam, count: 10, rate: 25, mix: [face]}]
catalog:
  profiles:
    - {name: cheap, kind: npu, latency_ms: {face: 10}, cost: 1, max: 1}
    - {name: dear, kind: gpu, latency_ms: {face: 10}, cost: 5}
)");
  EXPECT_EQ(LowerBound(spec, 1.0), Counts({1, 2}));
  EXPECT_EQ(NextDevice(spec, {1, 2}), 1);
}

TEST(CapacityTest, PacksDevicesIntoNodeTemplates) {
  PlanSpec spec = Parse(R"(
cameras: [{name: cam, rate: 10, mix: [face]}]
catalog:
  profiles:
    - {name: gpu, kind: gpu, latency_ms: {face: 10}}
    - {name: cpu, kind: cpu, latency_ms: {face: 30}}
  nodes: [{name: edge, accelerators: 4, cpus: 1}]
)");
  std::vector<sim::NodeSpec> nodes = PackNodes(spec, {5, 2});
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].name, "edge-0");
  ASSERT_EQ(nodes[0].devices.size(), 5u);  // 4 gpus + 1 cpu
  EXPECT_EQ(nodes[0].devices[3].name, "gpu-3");
  EXPECT_EQ(nodes[0].devices[4].name, "cpu-0");
  ASSERT_EQ(nodes[1].devices.size(), 2u);  // 1 gpu + 1 cpu
  EXPECT_EQ(nodes[1].devices[0].name, "gpu-0");
  EXPECT_EQ(nodes[1].devices[1].name, "cpu-0");
  EXPECT_EQ(Describe(spec, {5, 2}), "5 x gpu + 2 x cpu");
  sim::Scenario scenario = ScenarioFor(spec, {1, 0}, 2.0);
  EXPECT_DOUBLE_EQ(scenario.cameras[0].rate, 20);
  EXPECT_EQ(scenario.nodes.size(), 1u);
}

}  // namespace
}  // namespace heteroaccel::plan::internal

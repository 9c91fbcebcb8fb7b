#include "plan/plan_spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace heteroaccel::plan {
namespace {

using ::testing::HasSubstr;

constexpr char kGood[] = R"(
name: hand
seed: 3
slo: {attainment: 0.99, load: 1.1}
search: {duration: 5s, warmup: 1s, seeds: 1}
rtt_ms: 2
cameras:
  - {name: cam, count: 10, rate: 25, mix: [face], deadline_ms: 100}
  - {name: doc, count: 2, rate: 5, mix: {face: 1, ocr: 3}}
catalog:
  profiles:
    - {name: acc, kind: gpu, latency_ms: {face: 10, ocr: 40}, sigma: 0.2, cost: 2, max: 8}
    - {name: cpu, kind: cpu, slots: 2, latency_ms: {face: 30}}
  nodes:
    - {name: edge, accelerators: 2, cpus: 1, cost: 0.5}
)";

TEST(PlanSpecTest, ReadsEveryPart) {
  auto spec = ParsePlanSpec(kGood);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->base.name, "hand");
  EXPECT_EQ(spec->base.seed, 3u);
  EXPECT_DOUBLE_EQ(spec->base.rtt_ms, 2);
  EXPECT_DOUBLE_EQ(spec->slo.attainment, 0.99);
  EXPECT_DOUBLE_EQ(spec->slo.load, 1.1);
  EXPECT_EQ(spec->search.duration_ms, 5000);
  EXPECT_EQ(spec->base.duration.count(), 5000);
  EXPECT_TRUE(spec->base.nodes.empty());
  ASSERT_EQ(spec->profiles.size(), 2u);
  EXPECT_EQ(spec->profiles[0].name(), "acc");
  EXPECT_DOUBLE_EQ(spec->profiles[0].cost, 2);
  EXPECT_EQ(spec->profiles[0].max_count, 8);
  EXPECT_DOUBLE_EQ(spec->profiles[0].device.sigma, 0.2);
  EXPECT_EQ(spec->profiles[1].device.slots, 2);
  EXPECT_EQ(spec->profiles[1].LatencyMs("ocr"), std::nullopt);
  ASSERT_EQ(spec->nodes.size(), 1u);
  EXPECT_EQ(spec->nodes[0].accelerators, 2);
  const auto demand = spec->DemandByType();
  EXPECT_DOUBLE_EQ(demand.at("face"), 250 + 2.5);
  EXPECT_DOUBLE_EQ(demand.at("ocr"), 7.5);
  EXPECT_DOUBLE_EQ(spec->TotalRate(), 260);
  EXPECT_EQ(spec->DeadlineMs("face"), 100);
  EXPECT_EQ(spec->DeadlineMs("ocr"), std::nullopt);
}

TEST(PlanSpecTest, DefaultsOneNodeTemplate) {
  auto spec = ParsePlanSpec(R"(
cameras: [{name: c, rate: 10, mix: [face]}]
catalog: {profiles: [{name: a, kind: gpu, latency_ms: {face: 10}}]}
)");
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_EQ(spec->nodes.size(), 1u);
  EXPECT_EQ(spec->nodes[0].accelerators, 4);
  EXPECT_EQ(spec->nodes[0].cpus, 1);
  EXPECT_DOUBLE_EQ(spec->slo.attainment, 0.999);
}

struct BadCase {
  const char* yaml;
  const char* key;
};

TEST(PlanSpecTest, BadInputsNameTheKey) {
  const std::string cams = "cameras: [{name: c, rate: 10, mix: [face]}]\n";
  const std::string cat = "catalog: {profiles: [{name: a, kind: gpu, latency_ms: {face: 10}}]}\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {cams, "catalog: is required"},
      {cat, "cameras"},
      {cams + cat + "bogus: 1\n", "bogus: unknown key"},
      {cams + cat + "slo: {attainment: 1.5}\n", "slo.attainment"},
      {cams + cat + "slo: {load: 0}\n", "slo.load"},
      {cams + cat + "slo: {target: 1}\n", "slo.target"},
      {cams + cat + "search: {seeds: 100}\n", "search.seeds"},
      {cams + cat + "search: {duration: 10x}\n", "search.duration"},
      {cams + cat + "search: {duration: 1h}\n", "search.duration"},
      {cams + cat + "search: {max_devices: 0}\n", "search.max_devices"},
      {cams + "catalog: {profiles: []}\n", "catalog.profiles"},
      {cams + "catalog: {profiles: [{kind: gpu, latency_ms: {face: 1}}]}\n",
       "catalog.profiles[0].name"},
      {cams + "catalog: {profiles: [{name: a, kind: gpu, latency_ms: {face: 1}, cost: -1}]}\n",
       "catalog.profiles[0].cost"},
      {cams + "catalog: {profiles: [{name: a, kind: gpu, latency_ms: {face: 1}, max: x}]}\n",
       "catalog.profiles[0].max"},
      {cams + "catalog: {profiles: [{name: a, kind: gpu, latency_ms: {face: -1}}]}\n",
       "catalog.profiles[0].latency_ms.face"},
      {cams + "catalog: {profiles: [{name: a, kind: gpu, latency_ms: {face: 1}, speed: 2}]}\n",
       "catalog.profiles[0].speed"},
      {cams + "catalog: {profiles: [{name: a, kind: gpu, latency_ms: {face: 1}}, "
              "{name: a, kind: gpu, latency_ms: {face: 1}}]}\n",
       "catalog.profiles[1].name"},
      {cams + "catalog: {profiles: [{name: a, kind: gpu, latency_ms: {ocr: 1}}]}\n",
       "cameras[0].mix"},
      {cams + "catalog: {profiles: [{name: a, kind: cpu, latency_ms: {face: 1}}], "
              "nodes: [{name: n, cpus: 0}]}\n",
       "catalog.profiles[0]: no node template"},
      {cams + "catalog: {profiles: [{name: a, kind: gpu, latency_ms: {face: 1}}], "
              "nodes: [{name: n, profiles: [b]}]}\n",
       "catalog.nodes[0].profiles[0]"},
      {cams + "catalog: {profiles: [{name: a, kind: gpu, latency_ms: {face: 1}}], "
              "nodes: [{name: n, accelerators: 0, cpus: 0}]}\n",
       "catalog.nodes[0]"},
      {"cameras: [{name: c, rate: -1, mix: [face]}]\n" + cat, "cameras[0].rate"},
      {"cameras: [{name: c, rate: 1, mix: [face], deadline_ms: 0}]\n" + cat,
       "cameras[0].deadline_ms"},
      {cams + cat + "policy: fastest\n", "policy"},
      {"[1, 2", "plan"},
      {"- 1\n- 2\n", "plan"},
  };
  for (const auto& [yaml, key] : cases) {
    auto spec = ParsePlanSpec(yaml);
    ASSERT_FALSE(spec.ok()) << yaml;
    EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument) << yaml;
    EXPECT_THAT(std::string(spec.status().message()), HasSubstr(key)) << yaml;
  }
}

TEST(PlanSpecTest, RefusesOversizedInput) {
  std::string yaml(kMaxPlanYamlBytes + 1, '#');
  auto spec = ParsePlanSpec(yaml);
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr("1 MiB"));
}

TEST(PlanSpecTest, LoadNamesAMissingFile) {
  auto spec = LoadPlanSpec("/nonexistent/plan.yaml");
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace heteroaccel::plan

// Variant degradation in the simulator: scenario keys (devices' `variants`, the
// `degrade` block) and the effect on one run of the production scheduler, the
// same scenario measured with and without the degrade policy.
#include <gtest/gtest.h>

#include <iostream>
#include <string>

#include "sim/scenario.h"
#include "sim/simulator.h"

namespace heteroaccel::sim {
namespace {

// Two GPUs running "text" with ppocr-v4 (40 ms, the primary) and
// ppocr-v4-mobile (15 ms), Poisson cameras with a 200 ms deadline.
constexpr char kScenario[] = R"(
name: degrade
seed: 7
duration: 20s
warmup: 2s
nodes:
  - name: n
    count: 2
    devices:
      - {name: gpu0, kind: gpu, sigma: 0.2,
         variants: {text: {ppocr-v4: 40, ppocr-v4-mobile: 15, ppocr-v4-tiny: 5}}}
cameras:
  - {name: cam, count: 10, rate: 5, mix: [text], arrivals: poisson, deadline_ms: 200}
degrade:
  text: {floor: 0.80, variants: {ppocr-v4: 0.86, ppocr-v4-mobile: 0.81, ppocr-v4-tiny: 0.62}}
)";

Scenario Load(double load, bool degrade) {
  auto s = ParseScenario(kScenario);
  EXPECT_TRUE(s.ok()) << s.status();
  if (!degrade) s->degrade.clear();
  auto scaled = AtLoad(*s, load);
  EXPECT_TRUE(scaled.ok()) << scaled.status();
  return *scaled;
}

TEST(DegradeScenarioTest, ParsesAndRoundTripsVariantsAndTheDegradeBlock) {
  auto s = ParseScenario(kScenario);
  ASSERT_TRUE(s.ok()) << s.status();
  const DeviceSpec& d = s->nodes[0].devices[0];
  ASSERT_EQ(d.variants.at("text").size(), 3u);
  EXPECT_EQ(d.variants.at("text")[0].first, "ppocr-v4") << "the primary stays first";
  EXPECT_DOUBLE_EQ(d.MeanMs("text"), 40);
  EXPECT_EQ(d.VariantMs("text", "ppocr-v4-mobile"), 15);
  EXPECT_EQ(d.VariantMs("text", "other"), std::nullopt);
  EXPECT_EQ(d.RunTypes(), std::vector<std::string>{"text"});
  EXPECT_DOUBLE_EQ(s->degrade.at("text").floor, 0.80);
  auto back = ParseScenario(ToYaml(*s));
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << ToYaml(*s);
  EXPECT_EQ(*back, *s);
}

TEST(DegradeScenarioTest, RejectsBadKeysNamingThem) {
  const std::string base =
      "nodes: [{name: n, devices: [{name: d, variants: {text: {a: 40, b: 15}}}]}]\n"
      "cameras: [{name: c, rate: 1, mix: [text]}]\n";
  const std::pair<std::string, std::string> cases[] = {
      {"degrade: {text: {floor: 1.5, variants: {a: 0.9}}}", "degrade.text.floor"},
      {"degrade: {text: {variants: {a: 0.9}}}", "degrade.text.floor: is required"},
      {"degrade: {text: {floor: 0.5}}", "degrade.text.variants"},
      {"degrade: {text: {floor: 0.5, variants: {b: high}}}", "degrade.text.variants.b"},
      {"degrade: {text: {floor: 0.5, variants: {c: 0.9}}}", "degrade.text.variants.c"},
      {"degrade: {face: {floor: 0.5, variants: {a: 0.9}}}", "degrade.face: no device runs"},
      {"degrade: {text: {floor: 0.5, variants: {a: 0.9}, flor: 1}}", "degrade.text.flor"},
  };
  for (const auto& [extra, key] : cases) {
    auto s = ParseScenario(base + extra + "\n");
    ASSERT_FALSE(s.ok()) << extra;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find(key), std::string::npos) << s.status();
  }
  auto bad_ms = ParseScenario(
      "nodes: [{name: n, devices: [{name: d, variants: {text: {a: slow}}}]}]\n"
      "cameras: [{name: c, rate: 1, mix: [text]}]\n");
  ASSERT_FALSE(bad_ms.ok());
  EXPECT_NE(bad_ms.status().message().find("nodes[0].devices[0].variants.text.a"),
            std::string::npos)
      << bad_ms.status();
}

TEST(DegradeScenarioTest, LightLoadRunsThePrimary) {
  auto with = Simulate(Load(0.5, true));
  auto without = Simulate(Load(0.5, false));
  ASSERT_TRUE(with.ok()) << with.status();
  ASSERT_TRUE(without.ok()) << without.status();
  std::cout << "0.5x: p50 " << without->bench.latency.p50 << " -> " << with->bench.latency.p50
            << " ms, attainment " << without->attainment << " -> " << with->attainment << "\n";
  // The primary's 40 ms (+ 1.5 ms of round trips) dominates, with or without.
  EXPECT_GT(with->bench.latency.p50, 35);
  EXPECT_NEAR(with->bench.latency.p50, without->bench.latency.p50, 2.0);
  EXPECT_GE(with->attainment, without->attainment);
  // Nothing degraded: the same seed gave the very same run.
  EXPECT_EQ(with->event_log_hash, without->event_log_hash);
}

TEST(DegradeScenarioTest, OverloadDegradesAndKeepsDeadlines) {
  auto with = Simulate(Load(1.5, true));
  auto without = Simulate(Load(1.5, false));
  ASSERT_TRUE(with.ok()) << with.status();
  ASSERT_TRUE(without.ok()) << without.status();
  std::cout << "1.5x the primary's ideal (" << with->ideal_rps << " req/s): attainment "
            << without->attainment << " -> " << with->attainment << ", goodput "
            << without->goodput_rps << " -> " << with->goodput_rps << " req/s, p50 "
            << without->bench.latency.p50 << " -> " << with->bench.latency.p50 << " ms, p99 "
            << without->bench.latency.p99 << " -> " << with->bench.latency.p99 << " ms\n";
  // Without degradation at most 1 / 1.5 of the offered load can be served.
  EXPECT_LT(without->attainment, 0.70);
  EXPECT_GT(with->attainment, 0.97);
  EXPECT_GT(with->goodput_rps, 1.4 * without->goodput_rps);
  // Only as much as needed: each device's mean compute time lies between the
  // mobile variant's 15 ms and the primary's 40 ms, so both served; the tiny
  // variant (5 ms, below the floor) never did, or the mean could drop below 15.
  for (const auto& [device, tally] : with->bench.per_device) {
    std::cout << device << ": mean compute " << tally.mean_compute_ms << " ms\n";
    EXPECT_GT(tally.mean_compute_ms, 16) << device;
    EXPECT_LT(tally.mean_compute_ms, 38) << device;
  }
}

}  // namespace
}  // namespace heteroaccel::sim

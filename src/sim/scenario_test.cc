#include "sim/scenario.h"

#include <gtest/gtest.h>

#include <string>

namespace heteroaccel::sim {
namespace {

constexpr const char* kValid = R"(
name: three-nodes
seed: 7
duration: 60s
warmup: 5s
policy: earliest-finish
rtt_ms: 1.0
client_rtt_ms: 0.5
service_overhead_ms: 0.25
queue_capacity: 128
max_attempts: 3
nodes:
  - name: node-g
    count: 2
    group: site-a
    devices:
      - {name: gpu0, kind: gpu, slots: 1, latency_ms: {face: 20, pose: 30}, default_latency_ms: 25,
         types: [face, pose, text], sigma: 0.25}
  - name: node-c
    devices:
      - {name: cpu, kind: cpu, slots: 2, latency_ms: {face: 100}}
cameras:
  - name: cam
    count: 4
    rate: 5
    mix: [face, pose]
    arrivals: periodic
    deadline_ms: 300
    priority: high
  - name: burst
    rate: 2.5
    mix: {face: 1, text: 2}
    arrivals: bursts
    on_ms: 100
    off_ms: 400
    priority: -1
    inflight: 0
faults:
  - {at: 20s, node: node-g, down_for: 10s}
  - {at: 30s, device: node-g-1/gpu0, slowdown: 2}
  - {at: 40s, node: node-c}
)";

TEST(ParseScenarioTest, ReadsEveryKey) {
  auto s = ParseScenario(kValid);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->name, "three-nodes");
  EXPECT_EQ(s->seed, 7u);
  EXPECT_EQ(s->duration, std::chrono::seconds(60));
  EXPECT_EQ(s->warmup, std::chrono::seconds(5));
  EXPECT_EQ(s->queue_capacity, 128);
  EXPECT_DOUBLE_EQ(s->service_overhead_ms, 0.25);
  ASSERT_EQ(s->nodes.size(), 2u);
  EXPECT_EQ(s->nodes[0].Names(), (std::vector<std::string>{"node-g-0", "node-g-1"}));
  EXPECT_EQ(s->nodes[0].devices[0].RunTypes(),
            (std::vector<std::string>{"face", "pose", "text"}));
  EXPECT_EQ(s->nodes[0].devices[0].MeanMs("text"), 25);
  EXPECT_EQ(s->nodes[0].devices[0].sigma, 0.25);
  ASSERT_EQ(s->cameras.size(), 2u);
  EXPECT_EQ(s->cameras[0].priority, scheduler::kPriorityHigh);
  EXPECT_EQ(s->cameras[0].Inflight(), 1);
  EXPECT_EQ(s->cameras[1].Inflight(), 0);
  EXPECT_EQ(s->cameras[1].arrivals, Arrivals::kBursts);
  EXPECT_NEAR(s->cameras[1].Shares().at("text"), 2.0 / 3, 1e-12);
  ASSERT_EQ(s->faults.size(), 3u);
  EXPECT_EQ(s->faults[0].down_for, std::chrono::seconds(10));
  EXPECT_EQ(s->faults[1].slowdown, 2);
  EXPECT_FALSE(s->faults[2].down_for.has_value());
}

TEST(ParseScenarioTest, RoundTripsThroughToYaml) {
  auto s = ParseScenario(kValid);
  ASSERT_TRUE(s.ok()) << s.status();
  const std::string yaml = ToYaml(*s);
  auto again = ParseScenario(yaml);
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << yaml;
  EXPECT_EQ(*again, *s) << yaml;
  EXPECT_EQ(ToYaml(*again), yaml);
}

TEST(ParseScenarioTest, RoundTripKeepsOddDoubles) {
  auto s = ParseScenario(kValid);
  ASSERT_TRUE(s.ok());
  s->cameras[0].rate = 0.1 + 0.2;
  s->nodes[0].devices[0].latency_ms["face"] = 1.0 / 3;
  auto again = ParseScenario(ToYaml(*s));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *s);
}

struct BadCase {
  std::string from;  // replaced in kValid
  std::string to;
  std::string key;  // the message must name it
};

void PrintTo(const BadCase& c, std::ostream* out) { *out << c.key; }

class ParseScenarioErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(ParseScenarioErrorTest, NamesTheKeyAtFault) {
  std::string yaml = kValid;
  const BadCase& c = GetParam();
  const size_t at = yaml.find(c.from);
  ASSERT_NE(at, std::string::npos) << c.from;
  yaml.replace(at, c.from.size(), c.to);
  auto s = ParseScenario(yaml);
  ASSERT_FALSE(s.ok()) << c.to;
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find(c.key), absl::string_view::npos)
      << s.status().message() << " should name " << c.key;
}

INSTANTIATE_TEST_SUITE_P(
    Keys, ParseScenarioErrorTest,
    ::testing::Values(
        BadCase{"seed: 7", "seed: -1", "seed"},
        BadCase{"duration: 60s", "duration: 60", "duration"},
        BadCase{"duration: 60s", "duration: 0s", "duration"},
        BadCase{"warmup: 5s", "warmup: soon", "warmup"},
        BadCase{"policy: earliest-finish", "policy: fastest", "policy"},
        BadCase{"rtt_ms: 1.0", "rtt_ms: -1", "rtt_ms"},
        BadCase{"client_rtt_ms: 0.5", "client_rtt_ms: x", "client_rtt_ms"},
        BadCase{"service_overhead_ms: 0.25", "service_overhead_ms: -1", "service_overhead_ms"},
        BadCase{"queue_capacity: 128", "queue_capacity: 0", "queue_capacity"},
        BadCase{"max_attempts: 3", "max_attempts: 1000", "max_attempts"},
        BadCase{"seed: 7", "seed: 7\nspeed: 3", "speed"},
        BadCase{"count: 2", "count: 0", "nodes[0].count"},
        BadCase{"group: site-a", "group: 'a b'", "nodes[0].group"},
        BadCase{"slots: 1,", "slots: 0,", "nodes[0].devices[0].slots"},
        BadCase{"face: 20,", "face: -20,", "nodes[0].devices[0].latency_ms.face"},
        BadCase{"sigma: 0.25", "sigma: 9", "nodes[0].devices[0].sigma"},
        BadCase{"sigma: 0.25}", "sigma: 0.25, color: red}", "nodes[0].devices[0].color"},
        BadCase{"name: cpu, kind", "name: '', kind", "nodes[1].devices[0].name"},
        BadCase{"name: node-c", "name: node-g-1", "nodes[1].name"},
        BadCase{"rate: 5", "rate: 0", "cameras[0].rate"},
        BadCase{"mix: [face, pose]", "mix: [face, dance]", "cameras[0].mix"},
        BadCase{"mix: [face, pose]", "mix: 3", "cameras[0].mix"},
        BadCase{"text: 2}", "text: 0}", "cameras[1].mix.text"},
        BadCase{"arrivals: periodic", "arrivals: sometimes", "cameras[0].arrivals"},
        BadCase{"on_ms: 100", "on_ms: 0", "cameras[1].on_ms"},
        BadCase{"deadline_ms: 300", "deadline_ms: 0", "cameras[0].deadline_ms"},
        BadCase{"priority: high", "priority: urgent", "cameras[0].priority"},
        BadCase{"inflight: 0", "inflight: -2", "cameras[1].inflight"},
        BadCase{"name: burst", "name: cam-2", "cameras[1].name"},
        BadCase{"at: 20s", "at: later", "faults[0].at"},
        BadCase{"node: node-g,", "node: node-x,", "faults[0].node"},
        BadCase{"node-g-1/gpu0", "node-g-1/npu0", "faults[1].device"},
        BadCase{"slowdown: 2", "slowdown: 0", "faults[1].slowdown"},
        BadCase{"{at: 40s, node: node-c}", "{at: 40s}", "faults[2]"},
        BadCase{"down_for: 10s", "down_for: 10", "faults[0].down_for"}));

TEST(ParseScenarioTest, RejectsMalformedAndMissing) {
  EXPECT_EQ(ParseScenario("{{{").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(ParseScenario("[1, 2]").status().message().find("mapping"), absl::string_view::npos);
  auto no_nodes = ParseScenario("cameras: [{name: c, rate: 1, mix: [face]}]");
  EXPECT_NE(no_nodes.status().message().find("nodes"), absl::string_view::npos);
  auto no_cameras = ParseScenario("nodes: [{name: n, devices: [{name: d, latency_ms: {face: 1}}]}]");
  EXPECT_NE(no_cameras.status().message().find("cameras"), absl::string_view::npos);
  EXPECT_EQ(ParseScenario(std::string(5 << 20, ' ')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParseScenarioTest, BoundsExpansion) {
  auto s = ParseScenario(
      "nodes: [{name: n, count: 100000, devices: [{name: d, latency_ms: {face: 1}}]},"
      "        {name: m, devices: [{name: d, latency_ms: {face: 1}}]}]\n"
      "cameras: [{name: c, rate: 1, mix: [face]}]");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("nodes"), absl::string_view::npos);
  // 50,000 nodes of two devices are allowed; of three, they are too many devices.
  const auto nodes_of = [](const std::string& devices) {
    return "nodes: [{name: n, count: 50000, devices: [" + devices +
           "]}]\n"
           "cameras: [{name: c, rate: 1, mix: [face]}]";
  };
  const std::string two = "{name: a, latency_ms: {face: 1}}, {name: b, latency_ms: {face: 1}}";
  EXPECT_TRUE(ParseScenario(nodes_of(two)).ok());
  auto devices = ParseScenario(nodes_of(two + ", {name: c, latency_ms: {face: 1}}"));
  ASSERT_FALSE(devices.ok());
  EXPECT_NE(devices.status().message().find("devices after count"), absl::string_view::npos)
      << devices.status();
}

TEST(LoadScenarioTest, PrefixesThePath) {
  auto s = LoadScenario("/nonexistent/scenario.yaml");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("/nonexistent/scenario.yaml"), absl::string_view::npos);
}

}  // namespace
}  // namespace heteroaccel::sim

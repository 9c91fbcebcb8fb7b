// The heteroaccel binary's flags: a bad one, of any command, exits 2 with a
// message naming it; --help and --version exit 0.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "testing/subprocess.h"

namespace heteroaccel::testing {
namespace {

constexpr char kScenario[] = R"(
nodes: [{name: n, devices: [{name: d, latency_ms: {face: 10}}]}]
cameras: [{name: cam, rate: 5, mix: [face], arrivals: poisson}]
duration: 1s
warmup: 0s
)";

std::string SourceDir() {
  const char* dir = std::getenv("HETEROACCEL_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

struct Outcome {
  int status;
  std::string output;
};

Outcome Heteroaccel(std::vector<std::string> args) {
  args.insert(args.begin(), HeteroaccelBinary());
  auto process = Subprocess::Start(args);
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return {-1, ""};
  const int status = (*process)->Stop(0, std::chrono::seconds(30));
  return {status, (*process)->Output()};
}

TEST(CliTest, EveryBadFlagExitsTwoNamingIt) {
  const std::string scenario = WriteTempFileOrDie("scenario.yaml", kScenario);
  const std::string plan = SourceDir() + "/examples/plan/single.yaml";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"sim", scenario, "--seed", "-5"}, "--seed must be 0 or positive"},
      {{"sim", scenario, "--arrivals-seed", "-1"}, "--arrivals-seed must be 0 or positive"},
      {{"sim", scenario, "--arrivals-seed", "abc"}, "--arrivals-seed"},
      {{"sim", scenario, "--policy", "fastest"}, "--policy: unknown scheduling policy 'fastest'"},
      {{"plan", plan, "--seed", "-1"}, "--seed must be 0 or positive"},
      {{"bench", "--target", "http://127.0.0.1:1", "--cameras", "many"}, "--cameras"},
      {{"bench", "--target", "http://127.0.0.1:1", "--camera-name", "a b"}, "--camera-name"},
      {{"server", "--no-such-flag"}, "--no-such-flag"},
      {{"no-such-command"}, "A subcommand is required"},
  };
  for (const auto& [args, message] : cases) {
    const Outcome run = Heteroaccel(args);
    EXPECT_EQ(run.status, 2) << args[0] << " " << message << "\n" << run.output;
    EXPECT_NE(run.output.find(message), std::string::npos) << run.output;
  }
}

TEST(CliTest, HelpAndVersionExitZero) {
  const Outcome version = Heteroaccel({"--version"});
  EXPECT_EQ(version.status, 0) << version.output;
  EXPECT_NE(version.output.find("heteroaccel "), std::string::npos) << version.output;
  const Outcome help = Heteroaccel({"sim", "--help"});
  EXPECT_EQ(help.status, 0) << help.output;
  EXPECT_NE(help.output.find("--arrivals-seed"), std::string::npos) << help.output;
}

TEST(CliTest, ASeedFixesTheSimulation) {
  const std::string scenario = WriteTempFileOrDie("scenario.yaml", kScenario);
  const Outcome a = Heteroaccel({"sim", scenario, "--seed", "3", "--arrivals-seed", "9"});
  const Outcome b = Heteroaccel({"sim", scenario, "--seed", "3", "--arrivals-seed", "9"});
  const Outcome c = Heteroaccel({"sim", scenario, "--seed", "3", "--arrivals-seed", "10"});
  ASSERT_EQ(a.status, 0) << a.output;
  const auto hash = [](const std::string& out) { return out.substr(out.rfind("hash ")); };
  EXPECT_EQ(hash(a.output), hash(b.output));
  EXPECT_NE(hash(a.output), hash(c.output));
}

// A string field of `heteroaccel sim --json`'s output ("" when absent or the
// output is not JSON).
std::string JsonField(const std::string& output, const std::string& name) {
  const nlohmann::json json = nlohmann::json::parse(output, nullptr, /*allow_exceptions=*/false);
  return json.is_object() ? json.value(name, std::string()) : std::string();
}

// --saturated runs the saturation protocol (no deadlines, queues of 64) under
// --policy: its queues refuse at 64, and on a GPU and a CPU static (the GPU
// alone) runs another simulation than earliest-finish (both devices).
TEST(CliTest, SaturatedRunsTheSaturationProtocolUnderAPolicy) {
  const std::string scenario = WriteTempFileOrDie("two_devices.yaml", R"(
nodes: [{name: n, devices: [{name: g, kind: gpu, latency_ms: {face: 10}},
                            {name: c, kind: cpu, latency_ms: {face: 20}}]}]
cameras: [{name: cam, rate: 5, mix: [face], arrivals: poisson, deadline_ms: 5000}]
duration: 4s
warmup: 0s
)");
  const auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"sim", scenario, "--json", "--load", "1.5"};
    args.insert(args.end(), extra.begin(), extra.end());
    const Outcome o = Heteroaccel(args);
    EXPECT_EQ(o.status, 0) << o.output;
    return o.output;
  };
  const std::string saturated = run({"--saturated"});
  EXPECT_NE(saturated.find("is full (capacity 64 requests)"), std::string::npos) << saturated;
  EXPECT_EQ(run({}).find("capacity 64"), std::string::npos) << "the scenario's own queues";
  const std::string hash = JsonField(saturated, "event_log_hash");
  ASSERT_FALSE(hash.empty()) << saturated;
  EXPECT_EQ(JsonField(run({"--saturated", "--policy", "earliest-finish"}), "event_log_hash"), hash)
      << "earliest-finish is the scenario's default";
  EXPECT_NE(JsonField(run({"--saturated", "--policy", "static"}), "event_log_hash"), hash);
}

}  // namespace
}  // namespace heteroaccel::testing

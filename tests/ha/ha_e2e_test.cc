// Server replicas, active-active, end to end: two real `heteroaccel server`
// processes and two real agents (emulated accelerators) whose --server lists
// both replicas, so each replica knows every node and schedules on its own.
// Cameras replay across both replicas (loadgen::RunBench, in process); one
// replica is SIGKILLed mid-run and the cameras on it must be served by the
// other within 3 s, with no request answered twice and none lost.
//
// HA_E2E_REPORT=path appends one JSON line per failover run (for BENCHMARKS.md).
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "client/infer_client.h"
#include "http/client.h"
#include "loadgen/bench.h"
#include "testing/subprocess.h"

namespace heteroaccel {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::HeteroaccelBinary;
using testing::ModelsDir;
using testing::Subprocess;
using testing::WriteTempFileOrDie;

constexpr char kToken[] = "s3cret";
// Requests resume on the surviving replica within this (the requirement).
constexpr double kResumeBoundMs = 3'000;

std::string AgentConfig(const std::string& node, const std::string& device, int latency_ms) {
  return "node: " + node + R"(
opencl: false
cpu: {slots: 1, emulated: true, latency_ms: {face: 20}}
devices:
  - {id: )" +
         device +
         ", kind: gpu, name: Test GPU, slots: 2, latency_ms: {face: " + std::to_string(latency_ms) +
         "}}\n";
}

// A server replica on `port` (0: any).
std::unique_ptr<Subprocess> StartServer(int port, std::string& url) {
  auto s = Subprocess::Start({HeteroaccelBinary(), "server", "--listen",
                              "127.0.0.1:" + std::to_string(port), "--cluster-token", kToken});
  EXPECT_TRUE(s.ok()) << s.status();
  if (!s.ok()) return nullptr;
  url = testing::WaitForListeningUrl(**s, seconds(60));
  EXPECT_FALSE(url.empty()) << (*s)->Output();
  return std::move(*s);
}

std::unique_ptr<Subprocess> StartAgent(const std::string& servers, const std::string& config) {
  auto p = Subprocess::Start({HeteroaccelBinary(), "agent", "--listen", "127.0.0.1:0",
                              "--models-dir", ModelsDir(), "--config", config, "--server", servers,
                              "--cluster-token", kToken, "--models", "face"});
  EXPECT_TRUE(p.ok()) << p.status();
  if (!p.ok()) return nullptr;
  EXPECT_TRUE((*p)->WaitForLine("ready", std::chrono::minutes(5)).has_value()) << (*p)->Output();
  return std::move(*p);
}

// The nodes the replica at `url` has up and serving (a device with variants).
std::set<std::string> ServingNodes(const std::string& url) {
  std::set<std::string> nodes;
  auto http = http::Client::Create(url, seconds(2));
  if (!http.ok()) return nodes;
  auto r = (*http)->Get("/v1/cluster");
  if (!r.ok() || r->status != 200) return nodes;
  const nlohmann::json cluster = nlohmann::json::parse(r->body, nullptr, false);
  if (!cluster.is_object()) return nodes;
  for (const auto& node : cluster.value("nodes", nlohmann::json::array())) {
    bool serving = false;
    for (const auto& d : node.value("devices", nlohmann::json::array())) {
      serving |= !d.value("variants", nlohmann::json::array()).empty();
    }
    if (node.value("up", false) && serving) nodes.insert(node.value("node", ""));
  }
  return nodes;
}

// Waits, up to `timeout`, until the replica at `url` has both nodes up;
// returns how long that took, or nullopt.
std::optional<milliseconds> WaitForBothNodes(const std::string& url, milliseconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  const std::set<std::string> both = {"node-a", "node-b"};
  while (std::chrono::steady_clock::now() - start < timeout) {
    if (ServingNodes(url) == both) {
      return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  return std::nullopt;
}

// The sum of heteroaccel_server_requests_total over its labels, -1 on failure.
double ServerRequests(const std::string& url) {
  auto http = http::Client::Create(url, seconds(2));
  if (!http.ok()) return -1;
  auto r = (*http)->Get("/metrics");
  if (!r.ok() || r->status != 200) return -1;
  double total = 0;
  std::istringstream lines(r->body);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("heteroaccel_server_requests_total")) continue;
    total += std::strtod(line.substr(line.rfind(' ') + 1).c_str(), nullptr);
  }
  return total;
}

class HaE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(ModelsDir() + "/images")) {
      GTEST_SKIP() << "no " << ModelsDir() << "/images; run `make setup`";
    }
  }

  // Agents heartbeating to both replicas (`servers` lists them).
  void StartAgents(const std::string& servers) {
    agent_a_ = StartAgent(servers, WriteTempFileOrDie("a.yaml", AgentConfig("node-a", "gpu0", 5)));
    agent_b_ = StartAgent(servers, WriteTempFileOrDie("b.yaml", AgentConfig("node-b", "gpu1", 8)));
    ASSERT_NE(agent_a_, nullptr);
    ASSERT_NE(agent_b_, nullptr);
  }

  std::unique_ptr<Subprocess> server_a_, server_b_, agent_a_, agent_b_;
  std::string url_a_, url_b_;
};

TEST_F(HaE2ETest, KilledReplicaIsFailedOverWithinThreeSecondsAndNothingTwice) {
  server_a_ = StartServer(0, url_a_);
  server_b_ = StartServer(0, url_b_);
  ASSERT_NE(server_a_, nullptr);
  ASSERT_NE(server_b_, nullptr);
  StartAgents(url_a_ + "," + url_b_);
  ASSERT_TRUE(WaitForBothNodes(url_a_, milliseconds(10'000))) << server_a_->Output();
  ASSERT_TRUE(WaitForBothNodes(url_b_, milliseconds(10'000))) << server_b_->Output();

  // Each replica echoes the request id in its answer: that is how a client
  // tells which request an answer belongs to.
  for (const std::string& url : {url_a_, url_b_}) {
    auto c = client::InferClient::Create(url);
    ASSERT_TRUE(c.ok()) << c.status();
    client::InferOptions infer{"face", "", "", client::Protocol::kV2Binary};
    infer.id = "probe-" + url;
    auto r = (*c)->Infer(infer, testing::ReadFileOrDie(ModelsDir() + "/images/astronaut.png"));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->id, infer.id);
  }

  loadgen::BenchOptions options;
  options.target = url_a_ + "," + url_b_;
  options.cameras = 4;
  options.mix = {"face"};
  options.warmup = milliseconds(1'000);
  options.duration = milliseconds(6'000);
  options.images_dir = ModelsDir() + "/images";
  options.timeout = milliseconds(10'000);
  options.request_timeout = milliseconds(2'000);
  auto bench = std::async(std::launch::async, [&options] { return loadgen::RunBench(options); });

  // Kill replica A 3 s into the run (2 s into the measured window).
  std::this_thread::sleep_for(milliseconds(3'000));
  ASSERT_EQ(bench.wait_for(milliseconds(0)), std::future_status::timeout) << "bench ended early";
  const double before_kill = ServerRequests(url_b_);
  ASSERT_EQ(server_a_->Stop(SIGKILL, seconds(5)), -SIGKILL);
  const double at_kill = ServerRequests(url_b_);

  ASSERT_EQ(bench.wait_for(seconds(60)), std::future_status::ready) << "bench did not end";
  absl::StatusOr<loadgen::BenchReport> report = bench.get();
  ASSERT_TRUE(report.ok()) << report.status();
  const std::string table = loadgen::FormatTable(*report);
  const double after = ServerRequests(url_b_);

  EXPECT_EQ(report->duplicates, 0u) << table;
  EXPECT_EQ(report->lost, 0u) << table;
  EXPECT_EQ(report->errors, 0u) << table;
  // Cameras 0 and 2 started on A: each re-sent at least its request in flight.
  EXPECT_GE(report->failovers, 2u) << table;
  EXPECT_LE(report->max_gap_ms, kResumeBoundMs) << table;
  EXPECT_LE(report->max_camera_gap_ms, kResumeBoundMs) << table;
  // Both replicas served before the kill; B served the rest.
  EXPECT_GT(report->per_target.at(url_a_), 0u) << table;
  EXPECT_GT(report->per_target.at(url_b_), report->per_target.at(url_a_)) << table;
  EXPECT_GT(before_kill, 0);
  EXPECT_GT(after - at_kill, 0.5 * report->throughput_rps) << "B served too little after the kill";
  // B still has both nodes: agents heartbeat to it regardless of A.
  EXPECT_EQ(ServingNodes(url_b_), (std::set<std::string>{"node-a", "node-b"}));

  if (const char* path = std::getenv("HA_E2E_REPORT")) {
    std::ofstream(path, std::ios::app) << loadgen::ToJson(*report).dump() << "\n";
  }
}

TEST_F(HaE2ETest, AReplicaStartedLaterIsJoinedWithinTheResolvePeriod) {
  const int port_b = testing::UnusedLoopbackPort();
  ASSERT_NE(port_b, 0);
  server_a_ = StartServer(0, url_a_);
  ASSERT_NE(server_a_, nullptr);
  // B is listed but not running yet.
  StartAgents(url_a_ + ",http://127.0.0.1:" + std::to_string(port_b));
  ASSERT_TRUE(WaitForBothNodes(url_a_, milliseconds(10'000))) << server_a_->Output();

  server_b_ = StartServer(port_b, url_b_);
  ASSERT_NE(server_b_, nullptr);
  // Registration resolves names every 5 s; a listed address retries every
  // heartbeat (200 ms), so B hears from both well inside the period.
  const std::optional<milliseconds> joined = WaitForBothNodes(url_b_, milliseconds(5'000));
  ASSERT_TRUE(joined.has_value()) << server_b_->Output() << agent_a_->Output();
  EXPECT_LE(joined->count(), 5'000);

  // And B schedules on them: a short replay on B alone succeeds.
  loadgen::BenchOptions options;
  options.target = url_b_;
  options.cameras = 2;
  options.warmup = milliseconds(200);
  options.duration = milliseconds(1'000);
  options.images_dir = ModelsDir() + "/images";
  options.timeout = milliseconds(10'000);
  auto report = loadgen::RunBench(options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_GT(report->succeeded, 0u);
  EXPECT_EQ(report->errors, 0u) << loadgen::FormatTable(*report);
}

}  // namespace
}  // namespace heteroaccel

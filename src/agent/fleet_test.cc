// FleetService's management routes on a real executor with fake models: sync now
// (who may ask, which command each time service gets, the answer) with a fake
// command runner and a fake root; nothing is run for real.
#include "agent/fleet.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>

#include "common/clock.h"
#include "testing/fake_model.h"

namespace heteroaccel::agent {
namespace {

using Json = nlohmann::json;

class RecordingRunner final : public node::CommandRunner {
 public:
  absl::StatusOr<node::CommandResult> Run(const std::vector<std::string>& argv,
                                          std::chrono::milliseconds, size_t) override {
    std::lock_guard<std::mutex> lock(mu);
    runs.push_back(argv);
    node::CommandResult r;
    r.exit_code = 0;
    r.output = "200 OK\n";
    return r;
  }
  std::mutex mu;
  std::vector<std::vector<std::string>> runs;
};

class AgentFleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ::testing::TempDir() + "/agent_fleet_test_" + std::to_string(getpid());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    runtime::RuntimeDevice cpu;
    cpu.device.id = "cpu0";
    cpu.device.kind = devices::DeviceKind::kCpu;
    cpu.slots = 1;
    runtime::RuntimeDevice npu = cpu;
    npu.device.id = "npu0";
    npu.device.kind = devices::DeviceKind::kNpu;
    npu.device.emulated = true;
    npu.emulation = runtime::Emulation{{{"face", 0.02}}, 0.01, true};
    runtime::ExecutorOptions options;
    options.warm_up = false;
    executor_ =
        *runtime::Executor::Create(options, {cpu, npu}, catalog_, registry_, SystemClock());
    collector_ = *node::NodeCollector::Create({}, registry_);
    context_ = std::make_unique<AgentContext>(AgentContext{
        catalog_, *executor_, registry_, *collector_, {}, "", {}, {}, {}});
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  void Serve(bool allow) {
    FleetOptions options;
    options.cluster_token = "t";
    options.allow_time_sync = allow;
    options.root = root_;
    options.chronyc = "/opt/fake/chronyc";
    options.systemctl = "/opt/fake/systemctl";
    options.runner = runner_;
    service_ = std::make_unique<FleetService>(options, *context_);
    service_->AddRoutes(router_);
  }

  http::Response Call(const std::string& path, const std::string& token = "t",
                      std::string body = "{}") {
    http::Request request;
    request.method = "POST";
    request.path = path;
    request.body = std::move(body);
    if (!token.empty()) request.headers.emplace_back("authorization", "Bearer " + token);
    http::Router::Match match = router_.Find("POST", path);
    EXPECT_TRUE(match.found()) << path;
    std::promise<http::Response> answered;
    (*match.handler)(std::move(request), match.params,
                     [&answered](http::Response r) { answered.set_value(std::move(r)); });
    return answered.get_future().get();
  }

  void MakeFile(const std::string& relative) {
    std::filesystem::create_directories(std::filesystem::path(root_ + "/" + relative).parent_path());
    std::ofstream(root_ + "/" + relative) << "1\n";
  }

  std::string root_;
  std::shared_ptr<testing::Gate> gate_ = std::make_shared<testing::Gate>();
  inference::Catalog catalog_{{testing::FakeModelSpec("face", gate_)}};
  metrics::Registry registry_;
  std::unique_ptr<runtime::Executor> executor_;
  std::unique_ptr<node::NodeCollector> collector_;
  std::unique_ptr<AgentContext> context_;
  std::shared_ptr<RecordingRunner> runner_ = std::make_shared<RecordingRunner>();
  http::Router router_;
  std::unique_ptr<FleetService> service_;  // last: goes first
};

TEST_F(AgentFleetTest, AnEmulatedDevicesSpeedIsSetWithTheTokenOnly) {
  Serve(/*allow=*/false);
  const std::string slow = R"({"device": "npu0", "slowdown": 2.5})";
  EXPECT_EQ(Call("/v1/fleet/emulation", "", slow).status, 401);
  EXPECT_EQ(Call("/v1/fleet/emulation", "wrong", slow).status, 401);
  EXPECT_EQ(executor_->Snapshot()[1].slowdown, 1.0);

  const http::Response r = Call("/v1/fleet/emulation", "t", slow);
  ASSERT_EQ(r.status, 200) << r.body;
  const Json body = Json::parse(r.body);
  EXPECT_EQ(body["device"], "npu0");
  EXPECT_EQ(body["emulated"], true);
  EXPECT_EQ(body["slowdown"], 2.5);
  EXPECT_EQ(body["previous_slowdown"], 1.0);
  EXPECT_EQ(executor_->Snapshot()[1].slowdown, 2.5);
  const http::Response back = Call("/v1/fleet/emulation", "t", R"({"device":"npu0","slowdown":1})");
  ASSERT_EQ(back.status, 200) << back.body;
  EXPECT_EQ(Json::parse(back.body)["previous_slowdown"], 2.5);

  // Each refusal is a JSON error the caller can act on; nothing changes.
  const std::vector<std::pair<std::string, int>> refused = {
      {R"({"device": "cpu0", "slowdown": 2})", 400},   // a real device
      {R"({"device": "gpu7", "slowdown": 2})", 404},   // no such device
      {R"({"device": "npu0", "slowdown": 0})", 400},   // out of range
      {R"({"device": "npu0", "slowdown": 1e9})", 400},
      {R"({"device": "npu0", "slowdown": "2"})", 400},  // not a number
      {R"({"device": "npu0"})", 400},
      {R"({"device": "npu0", "slowdown": 2, "shell": "rm"})", 400},  // unknown key
      {R"([1, 2])", 400},
      {"not json", 400},
  };
  for (const auto& [request, status] : refused) {
    const http::Response answer = Call("/v1/fleet/emulation", "t", request);
    EXPECT_EQ(answer.status, status) << request << " -> " << answer.body;
    const Json error = Json::parse(answer.body, nullptr, false);
    ASSERT_TRUE(error.is_object()) << answer.body;
    EXPECT_TRUE(error.contains("error")) << answer.body;
  }
  EXPECT_EQ(executor_->Snapshot()[1].slowdown, 1.0);
}

TEST_F(AgentFleetTest, WithoutAClusterTokenEmulationChangesAreRefused) {
  FleetOptions options;  // no token
  options.root = root_;
  service_ = std::make_unique<FleetService>(options, *context_);
  service_->AddRoutes(router_);
  const http::Response r =
      Call("/v1/fleet/emulation", "", R"({"device": "npu0", "slowdown": 2})");
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("cluster token"), std::string::npos) << r.body;
  EXPECT_EQ(executor_->Snapshot()[1].slowdown, 1.0);
}

TEST_F(AgentFleetTest, SyncNowNeedsTheTokenAndTheFlag) {
  Serve(/*allow=*/false);
  EXPECT_EQ(Call("/v1/fleet/time/sync", "").status, 401);
  const http::Response refused = Call("/v1/fleet/time/sync");
  EXPECT_EQ(refused.status, 403);
  EXPECT_NE(refused.body.find("--allow-time-sync"), std::string::npos) << refused.body;
  EXPECT_TRUE(runner_->runs.empty());
}

TEST_F(AgentFleetTest, SyncNowAsksChronydToStepOrTimesyncdToRestart) {
  Serve(/*allow=*/true);
  const http::Response none = Call("/v1/fleet/time/sync");  // no time service in the root
  EXPECT_EQ(none.status, 409);
  EXPECT_NE(none.body.find("no time service"), std::string::npos) << none.body;

  MakeFile("run/chrony/chronyd.pid");
  const http::Response chrony = Call("/v1/fleet/time/sync");
  ASSERT_EQ(chrony.status, 200) << chrony.body;
  const Json body = Json::parse(chrony.body);
  EXPECT_EQ(body["service"], "chronyd");
  EXPECT_EQ(body["synced"], true);
  service_->Stop();  // waits for the worker
  ASSERT_EQ(runner_->runs.size(), 1u);
  EXPECT_EQ(runner_->runs[0], (std::vector<std::string>{"/opt/fake/chronyc", "-a", "makestep"}));
}

TEST_F(AgentFleetTest, SyncNowRestartsTimesyncd) {
  Serve(/*allow=*/true);
  MakeFile("run/systemd/timesync/synchronized");
  const http::Response r = Call("/v1/fleet/time/sync");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["service"], "systemd-timesyncd");
  service_->Stop();
  ASSERT_EQ(runner_->runs.size(), 1u);
  EXPECT_EQ(runner_->runs[0],
            (std::vector<std::string>{"/opt/fake/systemctl", "restart", "systemd-timesyncd"}));
}

}  // namespace
}  // namespace heteroaccel::agent

// The agent as a kubelet device plugin, end to end: the real binary with
// --device-plugin-dir and emulated accelerators, against a fake kubelet on a
// Unix socket in a temp dir (registration, dial-back, ListAndWatch, Allocate,
// a kubelet restart, a second agent refused, sockets removed on exit).
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "k8s/device_plugin/testing/fake_kubelet.h"
#include "testing/subprocess.h"

namespace heteroaccel {
namespace {

using k8s::testing::FakeKubelet;
using std::chrono::milliseconds;

constexpr milliseconds kWait{5000};
constexpr char kGpu[] = "heteroaccel.io/emulated-gpu";
constexpr char kNpu[] = "heteroaccel.io/emulated-npu";

std::unique_ptr<testing::Subprocess> StartAgent(const std::string& dir, const std::string& config) {
  auto process = testing::Subprocess::Start(
      {testing::HeteroaccelBinary(), "agent", "--listen", "127.0.0.1:0", "--models-dir",
       testing::ModelsDir(), "--models", "face", "--no-opencl", "--config", config,
       "--device-plugin-dir", dir});
  EXPECT_TRUE(process.ok()) << process.status();
  return process.ok() ? std::move(*process) : nullptr;
}

bool AllHealthy(const FakeKubelet::DeviceList& list) {
  return !list.empty() && std::all_of(list.begin(), list.end(), [](const v1beta1::Device& d) {
    return d.health() == "Healthy";
  });
}

class DevicePluginE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ha-dpe-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    config_ = dir_ + "/agent.yaml";
    std::ofstream(config_) << R"(node: dp-e2e
opencl: false
cpu: {slots: 1}
devices:
  - {id: gpu0, kind: gpu, name: Test GPU, slots: 1, latency_ms: {face: 5}}
  - {id: gpu1, kind: gpu, name: Test GPU, slots: 1, latency_ms: {face: 5}}
  - {id: npu0, kind: npu, name: Test NPU, slots: 1, latency_ms: {face: 5}}
)";
    auto kubelet = FakeKubelet::Start(dir_);
    ASSERT_TRUE(kubelet.ok()) << kubelet.status();
    kubelet_ = std::move(*kubelet);
  }
  void TearDown() override {
    kubelet_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  std::string config_;
  std::unique_ptr<FakeKubelet> kubelet_;
};

TEST_F(DevicePluginE2ETest, AdvertisesEmulatedDevicesAndSurvivesAKubeletRestart) {
  auto agent = StartAgent(dir_, config_);
  ASSERT_NE(agent, nullptr);
  ASSERT_TRUE(agent->WaitForLine("ready", std::chrono::minutes(5)).has_value())
      << agent->Output();
  ASSERT_TRUE(kubelet_->WaitForStreams(kGpu, 1, kWait)) << agent->Output();
  ASSERT_TRUE(kubelet_->WaitForStreams(kNpu, 1, kWait)) << agent->Output();
  EXPECT_TRUE(kubelet_->errors().empty());
  // Emulated devices only under their own names; CPUs not at all.
  EXPECT_EQ(kubelet_->Registrations("heteroaccel.io/gpu"), 0);
  EXPECT_EQ(kubelet_->Registrations("heteroaccel.io/cpu"), 0);
  EXPECT_EQ(kubelet_->Registrations("heteroaccel.io/emulated-cpu"), 0);
  EXPECT_EQ(kubelet_->LastRequest(kGpu).endpoint(), "heteroaccel-emulated-gpu.sock");
  // Healthy once warm (the health poll runs every second).
  ASSERT_TRUE(kubelet_->WaitForList(kGpu, AllHealthy, kWait)) << agent->Output();
  EXPECT_EQ(kubelet_->LastList(kGpu).size(), 2u);

  auto allocated = kubelet_->Allocate(kGpu, {{"gpu1"}, {"gpu0"}});
  ASSERT_TRUE(allocated.ok()) << allocated.status();
  ASSERT_EQ(allocated->container_responses_size(), 2);
  EXPECT_EQ(allocated->container_responses(0).envs().at("HETEROACCEL_DEVICES"), "gpu1");
  EXPECT_EQ(allocated->container_responses(1).envs().at("HETEROACCEL_EMULATED_GPU_DEVICES"),
            "gpu0");
  EXPECT_EQ(allocated->container_responses(0).devices_size(), 0);  // emulated: no device node
  auto refused = kubelet_->Allocate(kGpu, {{"npu0"}});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);

  ASSERT_TRUE(kubelet_->Restart().ok());
  ASSERT_TRUE(kubelet_->WaitForStreams(kGpu, 2, kWait)) << agent->Output();
  ASSERT_TRUE(kubelet_->WaitForStreams(kNpu, 2, kWait)) << agent->Output();
  EXPECT_TRUE(kubelet_->WaitForList(kNpu, AllHealthy, kWait));

  // A second agent on the same directory refuses to start.
  auto second = StartAgent(dir_, config_);
  ASSERT_NE(second, nullptr);
  EXPECT_TRUE(second->WaitForLine("already serves", std::chrono::seconds(60)).has_value())
      << second->Output();
  EXPECT_EQ(second->Stop(SIGTERM, std::chrono::seconds(10)), 1) << second->Output();
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/heteroaccel-emulated-gpu.sock"));

  EXPECT_EQ(agent->Stop(SIGTERM, std::chrono::seconds(30)), 0) << agent->Output();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/heteroaccel-emulated-gpu.sock"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/heteroaccel-emulated-npu.sock"));
}

TEST_F(DevicePluginE2ETest, RefusesAMissingDirectory) {
  auto agent = StartAgent(dir_ + "/missing", config_);
  ASSERT_NE(agent, nullptr);
  EXPECT_TRUE(agent->WaitForLine("does not exist", std::chrono::seconds(60)).has_value())
      << agent->Output();
  EXPECT_EQ(agent->Stop(SIGTERM, std::chrono::seconds(10)), 1);
}

}  // namespace
}  // namespace heteroaccel

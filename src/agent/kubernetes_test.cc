#include "agent/kubernetes.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace heteroaccel::agent {
namespace {

namespace fs = std::filesystem;

class KubernetesGlueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ha-k8s-glue-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    root_ = pattern;
  }
  void TearDown() override { fs::remove_all(root_); }
  void Touch(const std::string& path, const std::string& text = "") {
    fs::create_directories(fs::path(root_ + path).parent_path());
    std::ofstream(root_ + path) << text;
  }
  std::string root_;
};

runtime::RuntimeDevice Gpu(const std::string& id, const std::string& bus) {
  runtime::RuntimeDevice r;
  r.device.id = id;
  r.device.kind = devices::DeviceKind::kGpu;
  r.device.SetAttribute("pci_bus_id", bus);
  return r;
}

TEST_F(KubernetesGlueTest, ReadsNumaNodeDeviceNodesAndCdiName) {
  Touch("/sys/bus/pci/devices/0000:03:00.0/numa_node", "1\n");
  Touch("/sys/bus/pci/devices/0000:03:00.0/drm/renderD128/dev");
  Touch("/sys/bus/pci/devices/0000:03:00.0/drm/card1/dev");
  Touch("/sys/bus/pci/devices/0000:04:00.0/numa_node", "-1\n");
  Touch("/dev/dri/renderD128");  // card1 has no node under /dev: left out
  Touch("/dev/nvidia0");
  Touch("/dev/nvidiactl");
  Touch("/cdi/nvidia.yaml", "cdiVersion: 0.5.0\nkind: nvidia.com/gpu\n");
  std::vector<runtime::RuntimeDevice> devices = {Gpu("intel", "0000:03:00.0"),
                                                 Gpu("nv", "0000:04:00.0")};
  devices[1].device.SetAttribute("nvml_index", "0");
  devices[1].device.SetAttribute("uuid", "GPU-1234");
  runtime::RuntimeDevice emulated = Gpu("emu", "0000:03:00.0");
  emulated.device.emulated = true;
  devices.push_back(emulated);
  AnnotateForKubernetes(devices, root_ + "/sys", root_ + "/dev", {root_ + "/cdi"});

  EXPECT_EQ(NumaNode(devices[0].device), 1);
  EXPECT_EQ(devices[0].device.Attribute("device_nodes"), root_ + "/dev/dri/renderD128");
  EXPECT_EQ(devices[0].device.Attribute("cdi_name"), "");
  EXPECT_EQ(NumaNode(devices[1].device), std::nullopt);  // -1: unknown
  EXPECT_EQ(devices[1].device.Attribute("device_nodes"),
            root_ + "/dev/nvidia0," + root_ + "/dev/nvidiactl");
  EXPECT_EQ(devices[1].device.Attribute("cdi_name"), "nvidia.com/gpu=GPU-1234");
  EXPECT_FALSE(devices[2].device.HasAttribute("numa_node"));  // emulated: nothing
  EXPECT_FALSE(devices[2].device.HasAttribute("device_nodes"));
}

TEST_F(KubernetesGlueTest, NoCdiNameWithoutASpec) {
  std::vector<runtime::RuntimeDevice> devices = {Gpu("nv", "0000:04:00.0")};
  devices[0].device.SetAttribute("nvml_index", "0");
  devices[0].device.SetAttribute("uuid", "GPU-1234");
  AnnotateForKubernetes(devices, root_ + "/sys", root_ + "/dev", {root_ + "/cdi"});
  EXPECT_FALSE(devices[0].device.HasAttribute("cdi_name"));
}

runtime::DeviceState State(devices::DeviceKind kind, bool warm, int slots, bool loaded) {
  runtime::DeviceState s;
  s.device.device.id = std::string(devices::KindName(kind)) + "0";
  s.device.device.kind = kind;
  s.warm = warm;
  s.slots.resize(static_cast<size_t>(slots));
  if (loaded) s.variants = {"face/blazeface"};
  return s;
}

TEST(KubernetesHealthTest, HealthyOnlyWhileTheDeviceCanServe) {
  EXPECT_TRUE(DeviceHealthy(State(devices::DeviceKind::kGpu, true, 1, true)));
  EXPECT_FALSE(DeviceHealthy(State(devices::DeviceKind::kGpu, false, 1, false)));  // loading
  EXPECT_FALSE(DeviceHealthy(State(devices::DeviceKind::kGpu, true, 0, true)));    // no slots
  runtime::DeviceState failed = State(devices::DeviceKind::kGpu, true, 1, false);
  failed.load_errors = {"face/blazeface: no such file"};
  EXPECT_FALSE(DeviceHealthy(failed));  // nothing loaded
}

TEST(KubernetesHealthTest, UnhealthyWhileEverySlotKeepsFailing) {
  runtime::DeviceState s = State(devices::DeviceKind::kGpu, true, 2, true);
  s.slots[0].failure_streak = kUnhealthyFailureStreak;
  EXPECT_TRUE(DeviceHealthy(s));  // the other slot still serves
  s.slots[1].failure_streak = kUnhealthyFailureStreak + 5;
  EXPECT_FALSE(DeviceHealthy(s));
  s.slots[1].failure_streak = 0;  // a run succeeded again
  EXPECT_TRUE(DeviceHealthy(s));
}

TEST(KubernetesHealthTest, PluginDevicesLeaveCpusOut) {
  runtime::DeviceState gpu = State(devices::DeviceKind::kGpu, true, 1, true);
  gpu.device.device.emulated = true;
  gpu.device.device.SetAttribute("numa_node", "0");
  const std::vector<k8s::PluginDevice> out =
      PluginDevices({State(devices::DeviceKind::kCpu, true, 4, true), gpu,
                     State(devices::DeviceKind::kNpu, false, 1, false)});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].id, "gpu0");
  EXPECT_TRUE(out[0].emulated);
  EXPECT_TRUE(out[0].healthy);
  EXPECT_EQ(out[0].numa_node, 0);
  EXPECT_EQ(out[1].kind, devices::DeviceKind::kNpu);
  EXPECT_FALSE(out[1].healthy);
}

}  // namespace
}  // namespace heteroaccel::agent

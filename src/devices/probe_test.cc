#include "devices/probe.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "devices/testing/fake_device_probe.h"
#include "devices/testing/fake_sysfs.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace heteroaccel::devices {
namespace {

using ::testing::ElementsAre;
using testing::FakeDeviceProbe;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::MakeDevice;

std::vector<std::string> Ids(const ProbeReport& report) {
  std::vector<std::string> ids;
  ids.reserve(report.devices.size());
  for (const Device& d : report.devices) ids.push_back(d.id);
  return ids;
}

template <typename... Probes>
std::vector<std::unique_ptr<DeviceProbe>> List(Probes... probes) {
  std::vector<std::unique_ptr<DeviceProbe>> list;
  (list.push_back(std::move(probes)), ...);
  return list;
}

Device NvmlGpu(std::string bus_id) {
  return MakeDevice("nvidia-GPU-1234", DeviceKind::kGpu, "nvml",
                    {{"pci_bus_id", std::move(bus_id)}, {"memory_bytes", "17179869184"}});
}

Device OpenClGpu(std::string id, std::string bus_id) {
  return MakeDevice(std::move(id), DeviceKind::kGpu, "opencl",
                    {{"opencl_platform", "NVIDIA CUDA"},
                     {"opencl_device_index", "0"},
                     {"memory_bytes", "16000000000"},
                     {"pci_bus_id", std::move(bus_id)}});
}

Device PciPlaceholder(std::string bus_id) {
  Device device = MakeDevice("pci-" + bus_id, DeviceKind::kGpu, "pci",
                             {{"pci_bus_id", bus_id}, {"kernel_driver", "nvidia"}});
  device.state = DeviceState::kUnsupported;
  device.state_reason = "no driver";
  return device;
}

TEST(ProbeWithTest, MergesNvmlAndOpenClViewsOfOneGpu) {
  // OpenCL runs first: the survivor is chosen by source, not by probe order.
  const ProbeReport report = ProbeWith(
      List(FakeDeviceProbe::Returning("opencl", {OpenClGpu("opencl-nv-gpu0", "0000:17:00.0")}),
           FakeDeviceProbe::Returning("nvml", {NvmlGpu("00000000:17:00.0")})));
  EXPECT_THAT(report.warnings, IsEmpty());
  ASSERT_THAT(Ids(report), ElementsAre("nvidia-GPU-1234"));
  const Device& gpu = report.devices[0];
  EXPECT_EQ(gpu.source, "nvml");
  EXPECT_EQ(gpu.Attribute("memory_bytes"), "17179869184");  // NVML's value is kept
  EXPECT_EQ(gpu.Attribute("opencl_platform"), "NVIDIA CUDA");
  EXPECT_EQ(gpu.Attribute("opencl_device_index"), "0");
}

TEST(ProbeWithTest, GpuPlaceholderDisappearsWhenADriverReportsTheSameAddress) {
  const ProbeReport report =
      ProbeWith(List(FakeDeviceProbe::Returning("nvml", {NvmlGpu("0000:17:00.0")}),
                     FakeDeviceProbe::Returning("pci-gpu", {PciPlaceholder("0000:17:00.0"),
                                                            PciPlaceholder("0000:b3:00.0")})));
  ASSERT_THAT(Ids(report), ElementsAre("nvidia-GPU-1234", "pci-0000:b3:00.0"));
  EXPECT_EQ(report.devices[0].state, DeviceState::kReady);
  EXPECT_EQ(report.devices[0].Attribute("kernel_driver"), "nvidia");
  EXPECT_EQ(report.devices[1].state, DeviceState::kUnsupported);
}

TEST(ProbeWithTest, ReadyDeviceWinsOverUnsupportedOneFromAPreferredSource) {
  Device lost = NvmlGpu("0000:17:00.0");
  lost.state = DeviceState::kUnsupported;
  const ProbeReport report = ProbeWith(
      List(FakeDeviceProbe::Returning("nvml", {lost}),
           FakeDeviceProbe::Returning("opencl", {OpenClGpu("opencl-nv-gpu0", "0000:17:00.0")})));
  ASSERT_THAT(Ids(report), ElementsAre("opencl-nv-gpu0"));
}

TEST(ProbeWithTest, DoesNotMergeDevicesOfOneProbe) {
  // Two OpenCL platforms driving one card are two ways to open it; both stay.
  const ProbeReport report = ProbeWith(List(
      FakeDeviceProbe::Returning("opencl", {OpenClGpu("opencl-nv-gpu0", "0000:17:00.0"),
                                            OpenClGpu("opencl-rusticl-gpu0", "0000:17:00.0")})));
  EXPECT_THAT(Ids(report), ElementsAre("opencl-nv-gpu0", "opencl-rusticl-gpu0"));
}

TEST(ProbeWithTest, FailingProbeBecomesWarningAndOthersStillReport) {
  const ProbeReport report = ProbeWith(
      List(FakeDeviceProbe::Failing("nvml", absl::UnavailableError("driver not loaded")),
           FakeDeviceProbe::Returning("hwloc", {MakeDevice("cpu0", DeviceKind::kCpu, "hwloc")})));
  EXPECT_THAT(Ids(report), ElementsAre("cpu0"));
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_THAT(report.warnings[0], HasSubstr("nvml probe"));
  EXPECT_THAT(report.warnings[0], HasSubstr("driver not loaded"));
}

TEST(ProbeWithTest, DuplicateIdKeepsTheFirstAndWarns) {
  const ProbeReport report =
      ProbeWith(List(FakeDeviceProbe::Returning("a", {MakeDevice("npu0", DeviceKind::kNpu, "a")}),
                     FakeDeviceProbe::Returning("b", {MakeDevice("npu0", DeviceKind::kNpu, "b")})));
  ASSERT_EQ(report.devices.size(), 1u);
  EXPECT_EQ(report.devices[0].source, "a");
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_THAT(report.warnings[0], HasSubstr("\"npu0\""));
}

TEST(ProbeWithTest, SortsByKindThenIdWithNumbersInOrder) {
  const ProbeReport report = ProbeWith(List(
      FakeDeviceProbe::Returning("fake", {MakeDevice("x-other", DeviceKind::kOther, "fake"),
                                          MakeDevice("usb-1-2", DeviceKind::kNpu, "fake"),
                                          MakeDevice("opencl-pocl-cpu10", DeviceKind::kCpu, "fake"),
                                          MakeDevice("pci-0000:3b:00.0", DeviceKind::kFpga, "fake"),
                                          MakeDevice("opencl-pocl-cpu2", DeviceKind::kCpu, "fake"),
                                          MakeDevice("nvidia-GPU-1", DeviceKind::kGpu, "fake"),
                                          MakeDevice("cpu0", DeviceKind::kCpu, "fake")})));
  EXPECT_THAT(Ids(report), ElementsAre("cpu0", "opencl-pocl-cpu2", "opencl-pocl-cpu10",
                                       "nvidia-GPU-1", "usb-1-2", "pci-0000:3b:00.0", "x-other"));
}

TEST(ProbeWithTest, CallerKeepsProbesAcrossCallsAndSeesNewState) {
  auto probe = FakeDeviceProbe::Returning("fake", {});
  FakeDeviceProbe* fake = probe.get();
  const std::vector<std::unique_ptr<DeviceProbe>> probes = List(std::move(probe));
  EXPECT_THAT(Ids(ProbeWith(probes)), IsEmpty());
  fake->SetResult(std::vector<Device>{MakeDevice("usb-1-2", DeviceKind::kNpu, "fake")});
  EXPECT_THAT(Ids(ProbeWith(probes)), ElementsAre("usb-1-2"));
  EXPECT_EQ(fake->probe_calls(), 2);
}

TEST(ProbeAllTest, ReportsThisNodesCpuFirstWithoutWarnings) {
  absl::StatusOr<std::unique_ptr<testing::FakeSysfs>> sysfs = testing::FakeSysfs::Create();
  ASSERT_TRUE(sysfs.ok()) << sysfs.status();
  const ProbeReport report =
      ProbeAll({.sysfs_root = (*sysfs)->root(), .nvml_library = "/nonexistent/libnvidia-ml.so.1"});
  EXPECT_THAT(report.warnings, IsEmpty());
  ASSERT_FALSE(report.devices.empty());
  EXPECT_EQ(report.devices.front().id, "cpu0");
}

TEST(ProbeAllTest, CombinesRealProbesOverFakeSysfsAndFakeNvml) {
  absl::StatusOr<std::unique_ptr<testing::FakeSysfs>> sysfs = testing::FakeSysfs::Create();
  ASSERT_TRUE(sysfs.ok()) << sysfs.status();
  testing::FakeSysfs& tree = **sysfs;
  // The fake NVML reports GPUs at 17:00.0 and 65:00.0; the one at b3:00.0 has no driver.
  ASSERT_TRUE(tree.AddPciDevice("0000:17:00.0", 0x10de, 0x25b6, 0x030200, "nvidia").ok());
  ASSERT_TRUE(tree.AddPciDevice("0000:65:00.0", 0x10de, 0x27b8, 0x030200, "nvidia").ok());
  ASSERT_TRUE(tree.AddPciDevice("0000:b3:00.0", 0x10de, 0x27b8, 0x030200).ok());
  ASSERT_TRUE(tree.AddUsbDevice("1-2", 0x03e7, 0x2485).ok());

  const ProbeReport report = ProbeAll(
      {.sysfs_root = tree.root(), .opencl = false, .nvml_library = HETEROACCEL_FAKE_NVML_PATH});
  EXPECT_THAT(report.warnings, IsEmpty());
  EXPECT_THAT(Ids(report), ElementsAre("cpu0", "nvidia-GPU-11111111-2222-3333-4444-555555555555",
                                       "nvidia-GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
                                       "pci-0000:b3:00.0", "usb-1-2"));
  EXPECT_EQ(report.devices[1].Attribute("kernel_driver"), "nvidia");
  EXPECT_EQ(report.devices[3].state, DeviceState::kUnsupported);
}

}  // namespace
}  // namespace heteroaccel::devices

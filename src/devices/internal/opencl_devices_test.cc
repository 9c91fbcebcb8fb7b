#include "devices/internal/opencl_devices.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace heteroaccel::devices::internal {
namespace {

using ::testing::ElementsAre;

OpenClDeviceInfo Info(int device_index, std::string type, std::string name,
                      std::string pci_bus_id = "") {
  OpenClDeviceInfo info;
  info.platform_name = "NVIDIA CUDA";
  info.platform_short = "nv";
  info.device_index = device_index;
  info.type = std::move(type);
  info.name = std::move(name);
  info.pci_bus_id = std::move(pci_bus_id);
  return info;
}

std::vector<std::string> IdsAndNames(const std::vector<Device>& devices) {
  std::vector<std::string> out;
  out.reserve(devices.size());
  for (const Device& d : devices)
    out.push_back(d.id + "=" + d.name + "@" + d.Attribute("pci_bus_id"));
  return out;
}

TEST(PlatformShortNameTest, PrefersIcdSuffixThenFirstWordOfName) {
  EXPECT_EQ(PlatformShortName("POCL", "Portable Computing Language"), "pocl");
  EXPECT_EQ(PlatformShortName("NV", "NVIDIA CUDA"), "nv");
  EXPECT_EQ(PlatformShortName("", "Intel(R) OpenCL HD Graphics"), "intel");
  EXPECT_EQ(PlatformShortName("", ""), "cl");
}

TEST(OpenClKindTest, AcceleratorsSplitIntoFpgaAndNpu) {
  EXPECT_EQ(OpenClKind("gpu", "NVIDIA L4", "NVIDIA Corporation"), DeviceKind::kGpu);
  EXPECT_EQ(OpenClKind("cpu", "pthread-skylake", "AuthenticAMD"), DeviceKind::kCpu);
  EXPECT_EQ(OpenClKind("accelerator", "Intel(R) FPGA Emulation Device", "Intel(R) Corporation"),
            DeviceKind::kFpga);
  EXPECT_EQ(OpenClKind("accelerator", "pac_a10 : PAC Arria 10", "Altera Corporation"),
            DeviceKind::kFpga);
  EXPECT_EQ(OpenClKind("accelerator", "xilinx_u250_gen3x16", "Xilinx"), DeviceKind::kFpga);
  EXPECT_EQ(OpenClKind("accelerator", "Myriad X", "Intel"), DeviceKind::kNpu);
  EXPECT_EQ(OpenClKind("custom", "Thing", "Vendor"), DeviceKind::kOther);
}

TEST(OpenClDevicesTest, IdsDoNotDependOnEnumerationOrder) {
  const std::vector<Device> a = OpenClDevices(
      {Info(0, "gpu", "NVIDIA L4", "0000:65:00.0"), Info(1, "gpu", "NVIDIA A2", "0000:17:00.0")});
  const std::vector<Device> b = OpenClDevices(
      {Info(0, "gpu", "NVIDIA A2", "0000:17:00.0"), Info(1, "gpu", "NVIDIA L4", "0000:65:00.0")});
  EXPECT_THAT(IdsAndNames(a), ElementsAre("opencl-nv-gpu0=NVIDIA A2@0000:17:00.0",
                                          "opencl-nv-gpu1=NVIDIA L4@0000:65:00.0"));
  EXPECT_EQ(IdsAndNames(a), IdsAndNames(b));
}

TEST(OpenClDevicesTest, IdenticalModelsAreOrderedByPciAddressAndTypesCountSeparately) {
  const std::vector<Device> devices =
      OpenClDevices({Info(0, "gpu", "NVIDIA L4", "0000:b3:00.0"), Info(1, "cpu", "host"),
                     Info(2, "gpu", "NVIDIA L4", "0000:17:00.0")});
  EXPECT_THAT(IdsAndNames(devices),
              ElementsAre("opencl-nv-cpu0=host@", "opencl-nv-gpu0=NVIDIA L4@0000:17:00.0",
                          "opencl-nv-gpu1=NVIDIA L4@0000:b3:00.0"));
  EXPECT_EQ(devices[1].Attribute("opencl_device_index"), "2");
  EXPECT_EQ(devices[1].Attribute("opencl_type"), "gpu");
  EXPECT_EQ(devices[1].Attribute("opencl_platform"), "NVIDIA CUDA");
}

TEST(OpenClDevicesTest, UnavailableDeviceIsUnsupportedWithReason) {
  OpenClDeviceInfo info = Info(0, "gpu", "NVIDIA L4");
  info.available = false;
  const std::vector<Device> devices = OpenClDevices({info});
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0].state, DeviceState::kUnsupported);
  EXPECT_THAT(devices[0].state_reason, ::testing::HasSubstr("unavailable"));
}

}  // namespace
}  // namespace heteroaccel::devices::internal

#include <gtest/gtest.h>

#include "agent/agent.h"

namespace heteroaccel::agent {
namespace {

devices::Device Gpu(bool opencl) {
  devices::Device d;
  d.id = "nvidia-GPU-1";
  d.kind = devices::DeviceKind::kGpu;
  d.source = "nvml";
  if (opencl) d.SetAttribute("opencl_platform", "NVIDIA CUDA");
  return d;
}

TEST(UnservedDeviceReasonTest, NamesTheFlagThatTurnedOpenClOff) {
  EXPECT_EQ(UnservedDeviceReason(Gpu(false), /*use_opencl=*/false),
            "OpenCL is turned off on this agent (--no-opencl)");
  EXPECT_EQ(UnservedDeviceReason(Gpu(true), /*use_opencl=*/false),
            "OpenCL is turned off on this agent (--no-opencl)");
}

TEST(UnservedDeviceReasonTest, AnOpenClDeviceNotChosenNamesTheSelector) {
  EXPECT_NE(UnservedDeviceReason(Gpu(true), true).find("--opencl-device"), std::string::npos);
}

TEST(UnservedDeviceReasonTest, AGpuNoOpenClDriverReachesSaysWhatToInstall) {
  EXPECT_NE(UnservedDeviceReason(Gpu(false), true).find("OpenCL ICD"), std::string::npos);
}

TEST(UnservedDeviceReasonTest, OtherDevicesHaveNoBackend) {
  devices::Device fpga;
  fpga.kind = devices::DeviceKind::kFpga;
  EXPECT_EQ(UnservedDeviceReason(fpga, false), "no inference backend for this device in this build");
}

}  // namespace
}  // namespace heteroaccel::agent

#include <algorithm>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "devices/probe.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace heteroaccel::devices {
namespace {

using ::testing::StartsWith;

// Needs an OpenCL platform (PoCL's CPU device is enough); skips where there is none.
TEST(OpenClProbeTest, ReportsCpuDeviceAsKindCpu) {
  absl::StatusOr<std::vector<Device>> devices = MakeOpenClProbe()->Probe();
  ASSERT_TRUE(devices.ok()) << devices.status();
  const auto cpu = std::find_if(devices->begin(), devices->end(), [](const Device& d) {
    return d.Attribute("opencl_type") == "cpu";
  });
  if (cpu == devices->end()) GTEST_SKIP() << "no OpenCL CPU device on this machine";

  EXPECT_EQ(cpu->kind, DeviceKind::kCpu);
  EXPECT_EQ(cpu->source, "opencl");
  EXPECT_THAT(cpu->id, StartsWith("opencl-"));
  EXPECT_FALSE(cpu->name.empty());
  EXPECT_FALSE(cpu->Attribute("opencl_platform").empty());
  EXPECT_FALSE(cpu->Attribute("opencl_device_index").empty());
  uint64_t memory = 0;
  uint32_t compute_units = 0;
  EXPECT_TRUE(absl::SimpleAtoi(cpu->Attribute("memory_bytes"), &memory));
  EXPECT_TRUE(absl::SimpleAtoi(cpu->Attribute("compute_units"), &compute_units));
  EXPECT_GT(memory, 0u);
  EXPECT_GE(compute_units, 1u);
  if (absl::StrContains(cpu->Attribute("opencl_platform"), "Portable Computing Language")) {
    EXPECT_EQ(cpu->id, "opencl-pocl-cpu0");
  }
}

TEST(OpenClProbeTest, RepeatedProbesGiveTheSameIds) {
  std::unique_ptr<DeviceProbe> probe = MakeOpenClProbe();
  absl::StatusOr<std::vector<Device>> first = probe->Probe();
  absl::StatusOr<std::vector<Device>> second = MakeOpenClProbe()->Probe();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  if (first->empty()) GTEST_SKIP() << "no OpenCL platform on this machine";
  ASSERT_EQ(first->size(), second->size());
  for (size_t i = 0; i < first->size(); ++i) EXPECT_EQ((*first)[i].id, (*second)[i].id);
}

}  // namespace
}  // namespace heteroaccel::devices

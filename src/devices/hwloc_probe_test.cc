#include <cstdint>
#include <vector>

#include "absl/strings/numbers.h"
#include "devices/probe.h"
#include "gtest/gtest.h"

namespace heteroaccel::devices {
namespace {

int64_t IntAttribute(const Device& device, std::string_view key) {
  int64_t value = -1;
  EXPECT_TRUE(absl::SimpleAtoi(device.Attribute(key), &value))
      << key << "=\"" << device.Attribute(key) << "\"";
  return value;
}

TEST(HwlocCpuProbeTest, ReportsOneCpuDeviceForThisNode) {
  absl::StatusOr<std::vector<Device>> devices = MakeHwlocCpuProbe()->Probe();
  ASSERT_TRUE(devices.ok()) << devices.status();
  ASSERT_EQ(devices->size(), 1u);
  const Device& cpu = devices->front();
  EXPECT_EQ(cpu.id, "cpu0");
  EXPECT_EQ(cpu.kind, DeviceKind::kCpu);
  EXPECT_EQ(cpu.source, "hwloc");
  EXPECT_EQ(cpu.state, DeviceState::kReady);
  EXPECT_FALSE(cpu.name.empty());
  const int64_t cores = IntAttribute(cpu, "cores");
  EXPECT_GE(cores, 1);
  EXPECT_GE(IntAttribute(cpu, "pus"), cores);
  EXPECT_GE(IntAttribute(cpu, "packages"), 1);
  EXPECT_GE(IntAttribute(cpu, "numa_nodes"), 1);
  EXPECT_GE(IntAttribute(cpu, "memory_bytes"), 0);
  EXPECT_FALSE(cpu.Attribute("cpuset").empty());
}

TEST(HwlocCpuProbeTest, RepeatedProbesAgree) {
  std::unique_ptr<DeviceProbe> probe = MakeHwlocCpuProbe();
  absl::StatusOr<std::vector<Device>> first = probe->Probe();
  absl::StatusOr<std::vector<Device>> second = probe->Probe();
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_EQ(first->size(), second->size());
  EXPECT_EQ(first->front().attributes, second->front().attributes);
}

}  // namespace
}  // namespace heteroaccel::devices

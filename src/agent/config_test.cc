#include "agent/config.h"

#include <gtest/gtest.h>

namespace heteroaccel::agent {
namespace {

TEST(AgentConfigTest, ParsesEmulatedDevices) {
  auto config = ParseAgentConfig(R"(
node: fpga-node
opencl: false
cpu: {slots: 1, emulated: true, latency_ms: {face: 9}}
devices:
  - id: arria10
    kind: fpga
    name: Intel Arria 10
    slots: 2
    latency_ms: {face: 40.5, text: 120}
    default_latency_ms: 50
    reuse_results: false
)",
                                 "test.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->node, "fpga-node");
  EXPECT_EQ(config->opencl, false);
  EXPECT_EQ(config->cpu_slots, 1);
  ASSERT_TRUE(config->cpu_emulation.has_value());
  EXPECT_DOUBLE_EQ(config->cpu_emulation->LatencyFor("face"), 0.009);
  ASSERT_EQ(config->devices.size(), 1u);
  auto device = EmulatedDevice(config->devices[0]);
  ASSERT_TRUE(device.ok());
  EXPECT_EQ(device->device.kind, devices::DeviceKind::kFpga);
  EXPECT_EQ(device->device.name, "Intel Arria 10 (emulated)");
  EXPECT_TRUE(device->device.emulated);
  EXPECT_EQ(device->slots, 2);
  EXPECT_DOUBLE_EQ(device->emulation->LatencyFor("face"), 0.0405);
  EXPECT_DOUBLE_EQ(device->emulation->LatencyFor("pose"), 0.05);
  EXPECT_FALSE(device->emulation->reuse_results);
}

TEST(AgentConfigTest, ErrorsNameTheFileAndTheProblem) {
  auto bad_kind = ParseAgentConfig("devices: [{id: x, kind: tpu9}]", "a.yaml");
  EXPECT_EQ(bad_kind.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad_kind.status().message().find("a.yaml"), std::string::npos);
  auto bad_id = ParseAgentConfig("devices: [{id: '../x', kind: gpu}]", "b.yaml");
  EXPECT_NE(bad_id.status().message().find("devices[0].id"), std::string::npos);
  auto twice = ParseAgentConfig("devices: [{id: a, kind: gpu}, {id: a, kind: npu}]", "c.yaml");
  EXPECT_NE(twice.status().message().find("appears twice"), std::string::npos);
  auto syntax = ParseAgentConfig("devices: [", "d.yaml");
  EXPECT_EQ(syntax.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadAgentConfig("/nonexistent.yaml").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace heteroaccel::agent

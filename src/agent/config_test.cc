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
    variant_latency_ms: {blazeface-back-256: 7}
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
  // A variant's own time, over its type's.
  EXPECT_DOUBLE_EQ(device->emulation->LatencyFor("face", "blazeface-back-256"), 0.007);
  EXPECT_DOUBLE_EQ(device->emulation->LatencyFor("face", "blazeface-front-128"), 0.0405);
  EXPECT_FALSE(device->emulation->reuse_results);
}

TEST(AgentConfigTest, RefusesABadVariantLatency) {
  for (const char* bad : {"variant_latency_ms: [1]", "variant_latency_ms: {x: -1}",
                          "variant_latency_ms: {x: fast}"}) {
    auto config = ParseAgentConfig(
        std::string("devices:\n  - id: gpu0\n    kind: gpu\n    ") + bad + "\n", "test.yaml");
    ASSERT_FALSE(config.ok()) << bad;
    EXPECT_NE(config.status().message().find("variant_latency_ms"), std::string::npos)
        << config.status();
  }
}

TEST(AgentConfigTest, ReadsLatencySigmaAndTypes) {
  auto config = ParseAgentConfig(R"(
cpu: {emulated: true, types: []}
devices:
  - {id: gpu0, kind: gpu, latency_ms: {face: 20, pose: 30}, latency_sigma: 0.25,
     types: [face, pose]}
  - {id: npu0, kind: npu, latency_ms: {face: 10}}
)",
                                 "sigma.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_TRUE(config->cpu_emulation.has_value());
  ASSERT_TRUE(config->cpu_emulation->types.has_value());
  EXPECT_TRUE(config->cpu_emulation->types->empty());
  EXPECT_FALSE(config->cpu_emulation->Runs("face"));
  ASSERT_EQ(config->devices.size(), 2u);
  const runtime::Emulation& gpu = config->devices[0].emulation;
  EXPECT_DOUBLE_EQ(gpu.sigma, 0.25);
  EXPECT_EQ(gpu.types, (std::vector<std::string>{"face", "pose"}));
  EXPECT_TRUE(gpu.Runs("pose"));
  EXPECT_FALSE(gpu.Runs("text"));
  const runtime::Emulation& npu = config->devices[1].emulation;
  EXPECT_EQ(npu.sigma, 0.0);  // constant hold, as before
  EXPECT_FALSE(npu.types.has_value());
  EXPECT_TRUE(npu.Runs("text"));
  auto device = EmulatedDevice(config->devices[0]);
  ASSERT_TRUE(device.ok());
  EXPECT_DOUBLE_EQ(device->emulation->sigma, 0.25);
}

TEST(AgentConfigTest, LatencySigmaOutsideZeroToTwoNamesTheKey) {
  for (const char* sigma : {"-0.1", "2.5", ".nan", ".inf", "wide", "[1]"}) {
    auto config = ParseAgentConfig(
        std::string("devices: [{id: gpu0, kind: gpu, latency_ms: {face: 20}, latency_sigma: ") +
            sigma + "}]",
        "s.yaml");
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << sigma;
    EXPECT_NE(config.status().message().find("s.yaml: devices[0].latency_sigma must be a number "
                                             "from 0"),
              std::string::npos)
        << sigma << ": " << config.status();
  }
  auto cpu = ParseAgentConfig("cpu: {emulated: true, latency_sigma: 3}", "c.yaml");
  EXPECT_NE(cpu.status().message().find("cpu.latency_sigma"), std::string::npos) << cpu.status();
  EXPECT_TRUE(ParseAgentConfig("devices: [{id: g, kind: gpu, latency_sigma: 2}]", "x").ok());
  EXPECT_TRUE(ParseAgentConfig("devices: [{id: g, kind: gpu, latency_sigma: 0}]", "x").ok());
  auto types = ParseAgentConfig("devices: [{id: g, kind: gpu, types: face}]", "t.yaml");
  EXPECT_NE(types.status().message().find("devices[0].types must be a list"), std::string::npos)
      << types.status();
  auto nested = ParseAgentConfig("devices: [{id: g, kind: gpu, types: [[face]]}]", "t.yaml");
  EXPECT_NE(nested.status().message().find("devices[0].types[0] must be"), std::string::npos)
      << nested.status();
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

TEST(AgentConfigTest, GroupNamesArePlainAndShort) {
  for (const std::string& group :
       std::vector<std::string>{"", "demo", "line-3", "site_A.cam", std::string(63, 'g')}) {
    EXPECT_TRUE(ValidateGroupName(group).ok()) << group;
  }
  for (const std::string& group :
       std::vector<std::string>{"two words", "a/b", "é", "x\n", "{x}", std::string(64, 'g')}) {
    const absl::Status s = ValidateGroupName(group);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << group;
    EXPECT_NE(s.message().find("at most 63 letters, digits"), std::string::npos) << s;
  }
}

TEST(AgentConfigTest, ReadsTheGroupAndRefusesABadOne) {
  auto config = ParseAgentConfig("group: line-3\n", "g.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->group, "line-3");
  auto bad = ParseAgentConfig("group: 'line 3'\n", "h.yaml");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("h.yaml: group 'line 3'"), std::string::npos)
      << bad.status();
}

TEST(AgentConfigTest, ReadsTheDevicePluginDirectory) {
  auto config = ParseAgentConfig("device_plugin_dir: /var/lib/kubelet/device-plugins\n", "d.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->device_plugin_dir, "/var/lib/kubelet/device-plugins");
  auto none = ParseAgentConfig("node: n\n", "e.yaml");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->device_plugin_dir, "");
}

TEST(AgentConfigTest, ServerIsOneUrlOrAListOfReplicas) {
  auto one = ParseAgentConfig("server: http://10.0.0.1:8000\n", "s.yaml");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->server, "http://10.0.0.1:8000");
  auto list = ParseAgentConfig(
      "server:\n  - http://heteroaccel-server-peers:8000\n  - http://10.0.0.9:8000\n", "s.yaml");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->server, "http://heteroaccel-server-peers:8000,http://10.0.0.9:8000");
  auto map = ParseAgentConfig("server: {url: x}\n", "m.yaml");
  EXPECT_EQ(map.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(map.status().message().find("m.yaml: server must be a URL or a list"),
            std::string::npos)
      << map.status();
  auto nested = ParseAgentConfig("server: [[a]]\n", "n.yaml");
  EXPECT_NE(nested.status().message().find("server[0] must be a URL"), std::string::npos)
      << nested.status();
  auto comma = ParseAgentConfig("server: ['a:1,b:2']\n", "c.yaml");
  EXPECT_NE(comma.status().message().find("no commas"), std::string::npos) << comma.status();
}

}  // namespace
}  // namespace heteroaccel::agent

namespace heteroaccel::agent {
namespace {

TEST(AgentConfigTest, PackageActionsAreOffUnlessTheFileAllowsThem) {
  auto off = ParseAgentConfig("group: line-3\n", "p.yaml");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(off->allow_package_actions);
  auto on = ParseAgentConfig("allow_package_actions: true\n", "p.yaml");
  ASSERT_TRUE(on.ok()) << on.status();
  EXPECT_TRUE(on->allow_package_actions);
  auto bad = ParseAgentConfig("allow_package_actions: sometimes\n", "p.yaml");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("p.yaml"), std::string::npos) << bad.status();
}

}  // namespace
}  // namespace heteroaccel::agent

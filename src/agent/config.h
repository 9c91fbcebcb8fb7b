// Agent configuration file (YAML). Everything is optional; flags given on the
// command line are applied on top.
//
//   node: gpu-node-1            # the name this node registers with (default: hostname)
//   group: line-3               # the node group it reports (default: none)
//   labels: {site: north, camera-rack: "2"}   # reported to the server (ValidateLabel)
//   server: http://10.0.0.1:8000   # or a list: every server replica, e.g.
//                                  # [http://heteroaccel-server-peers:8000]
//   cluster_token_file: /etc/heteroaccel/token
//   device_plugin_dir: /var/lib/kubelet/device-plugins   # serve the kubelet (default: off)
//   allow_package_actions: true # the server may run apt on this node (default: false)
//   allow_time_sync: true       # the server may ask the time service to sync now (default: false)
//   opencl: false               # run nothing on OpenCL
//   cpu:
//     slots: 1
//     emulated: false           # true: the node's CPU follows latency_ms instead
//     latency_ms: {face: 9}
//     types: []                 # emulated only: the types it runs ([] = none: the
//                               # node serves from its emulated devices alone)
//   devices:                    # emulated accelerators for sites and tests without them
//     - id: iris-xe
//       kind: gpu               # cpu, gpu, npu, fpga, other
//       name: Intel Iris Xe Graphics
//       slots: 1
//       latency_ms: {face: 14, object: 30}
//       variant_latency_ms: {blazeface-back-256: 6}   # a variant's own, over its type's
//       default_latency_ms: 20  # types missing from latency_ms
//       latency_sigma: 0.25     # service times lognormal around latency_ms, this shape
//                               # (0..2; 0 = every request takes latency_ms exactly)
//       types: [face, object]   # the types it runs (default: every type the node loads)
//       reuse_results: true     # answer identical inputs from the result cache
//
// Emulated devices get " (emulated)" appended to their name and are labelled
// emulated in every output and metric.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "cluster/contract.h"
#include "runtime/executor.h"

namespace heteroaccel::agent {

struct EmulatedDeviceConfig {
  std::string id;
  std::string kind;
  std::string name;
  int slots = 1;
  runtime::Emulation emulation;
};

struct AgentConfig {
  std::string node;
  std::string group;
  std::map<std::string, std::string> labels;
  std::string server;  // comma-separated when the file lists several (Registration)
  std::string cluster_token_file;
  std::string device_plugin_dir;  // "" = not a kubelet device plugin
  bool allow_package_actions = false;
  bool allow_time_sync = false;
  std::optional<bool> opencl;
  std::optional<int> cpu_slots;
  std::optional<runtime::Emulation> cpu_emulation;
  std::vector<EmulatedDeviceConfig> devices;
};

// A node group name: at most 63 of [A-Za-z0-9._-] ("" is no group). It becomes
// a Prometheus label and a dashboard filter, so it stays plain.
// InvalidArgument names `what` (the key or flag) and says what is allowed.
using cluster::ValidateGroupName;

// InvalidArgument names the file, the key and what is expected.
absl::StatusOr<AgentConfig> LoadAgentConfig(const std::string& path);
absl::StatusOr<AgentConfig> ParseAgentConfig(const std::string& yaml, const std::string& origin);

// The runtime device for an emulated device entry.
absl::StatusOr<runtime::RuntimeDevice> EmulatedDevice(const EmulatedDeviceConfig& config);

}  // namespace heteroaccel::agent

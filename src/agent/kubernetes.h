// The agent's side of the Kubernetes device plugin (k8s/device_plugin.h): what
// the plugin advertises for the executor's devices, and the Kubernetes fields
// of the heartbeat's device reports.
//
// A device is healthy while it can serve: it has slots, they have loaded and
// warmed up, and at least one model loaded (a model that failed to load while
// others did is a load error, not a lost device). CPUs are not advertised.
// The NUMA node, device nodes and CDI name are read once from sysfs, /dev and
// the CDI spec folders by AnnotateForKubernetes, and kept as attributes:
//   numa_node     the PCI device's NUMA node (sysfs numa_node), absent if unknown
//   device_nodes  comma-separated host paths (/dev/nvidiaN, /dev/dri/renderD128, ...)
//   cdi_name      "nvidia.com/gpu=<uuid>" when a CDI spec for nvidia.com/gpu exists
// Emulated devices get none of them.
//
// Pure functions over their arguments; thread-safe as their arguments are.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cluster/contract.h"
#include "k8s/device_plugin/device_plugin.h"
#include "runtime/executor.h"

namespace heteroaccel::agent {

struct AgentContext;

// Sets numa_node, device_nodes and cdi_name on the real devices (see above).
// `dev_root` and `cdi_dirs` are for tests.
void AnnotateForKubernetes(std::vector<runtime::RuntimeDevice>& devices,
                           const std::string& sysfs_root, const std::string& dev_root = "/dev",
                           const std::vector<std::string>& cdi_dirs = {"/etc/cdi",
                                                                       "/var/run/cdi"});

// Runs failed in a row on every slot that make a device Unhealthy.
inline constexpr int kUnhealthyFailureStreak = 3;
// Healthy while it can serve: slots, warmed up, a model loaded, and not every
// slot failing its last kUnhealthyFailureStreak runs.
bool DeviceHealthy(const runtime::DeviceState& state);
std::optional<int> NumaNode(const devices::Device& device);

// The plugin's view of the executor's devices (CPUs left out).
std::vector<k8s::PluginDevice> PluginDevices(const std::vector<runtime::DeviceState>& snapshot);

// Sets healthy, numa_node and pod_assigned for the heartbeat.
void FillKubernetesFields(const AgentContext& context, const runtime::DeviceState& state,
                          cluster::DeviceReport& report);

}  // namespace heteroaccel::agent

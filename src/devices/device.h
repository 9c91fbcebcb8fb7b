// Device: what one node knows about one accelerator it can see.
//
// Probes (probe.h) produce Devices; the scheduler, the agent and the device plugin consume
// them. A Device is a plain value: it owns its strings, copies freely and holds no handle to
// the hardware. Backends reopen the hardware from the attributes (OpenCL platform and
// device index, PCI bus id, ...). The free functions here are pure and thread-safe; a
// Device follows the usual value-type rule (concurrent reads are fine, writes need the
// caller's synchronisation).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/device_kind.h"

namespace heteroaccel::devices {

// The kind type is shared with the cluster contract and the scheduler.
using ::heteroaccel::DeviceKind;
using ::heteroaccel::KindName;
using ::heteroaccel::ParseKind;

// kUnsupported: the device is present, but no backend on this node can drive it (missing
// runtime or driver). It is reported so an operator sees it; the scheduler skips it.
enum class DeviceState { kReady, kUnsupported };

// "ready", "unsupported".
std::string_view StateName(DeviceState state);

struct Device {
  // Stable across restarts and probe order: derived from what identifies the hardware
  // (UUID, PCI address, USB port path, OpenCL platform and device name), never from
  // pointers or enumeration races. Examples: "cpu0", "opencl-pocl-cpu0",
  // "nvidia-GPU-<uuid>", "pci-0000:03:00.0", "usb-1-2".
  std::string id;
  DeviceKind kind = DeviceKind::kOther;
  // Human name: CPU model, OpenCL device name, "Intel Movidius Myriad X (NCS2)", ...
  std::string name;
  std::string vendor;
  // Which probe found it: "hwloc", "opencl", "nvml", "pci", "usb" (or a fake's name).
  std::string source;
  DeviceState state = DeviceState::kReady;
  // Why the device is unsupported, phrased as what to install or fix. Empty when ready.
  std::string state_reason;
  // Always false from probes; emulated devices come from configuration.
  bool emulated = false;
  // Ordered key/value facts, e.g. packages, numa_nodes, cores, pus, memory_bytes,
  // opencl_platform, opencl_device_index, opencl_type, pci_bus_id, driver_version.
  // Keys are unique within one Device (SetAttribute keeps them so).
  std::vector<std::pair<std::string, std::string>> attributes;

  // The value for `key`, or "" when absent.
  std::string Attribute(std::string_view key) const;
  bool HasAttribute(std::string_view key) const;
  // Replaces the value when `key` exists, appends otherwise.
  void SetAttribute(std::string_view key, std::string value);
};

// Canonical PCI address "dddd:bb:dd.f" in lower case, from the spellings drivers use
// ("0000:03:00.0", "00000000:03:00.0", "03:00.0"). InvalidArgument for anything else.
absl::StatusOr<std::string> NormalizePciBusId(std::string_view bus_id);

}  // namespace heteroaccel::devices

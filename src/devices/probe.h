// DeviceProbe: the seam between the node's hardware and everything that schedules onto it.
//
// Each probe asks one source (hwloc, OpenCL, NVML, sysfs) which devices exist and returns
// them as Device values; ProbeAll runs the standard set and merges their answers into one
// stable, de-duplicated list. Tests inject fakes through ProbeWith
// (devices/testing/fake_device_probe.h) and fake sysfs trees through MakeBusProbe's root.
//
// Contract: probes are thread-compatible. One probe may be used by one thread at a time;
// distinct probes may run concurrently. Probe() may be called repeatedly (e.g. to notice
// hot-plugged devices) and returns the current state each time. A probe whose source is
// absent (no OpenCL ICD, no NVIDIA driver, no sysfs) returns no devices rather than an
// error; an error means the source exists but misbehaved.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "devices/device.h"

namespace heteroaccel::devices {

class DeviceProbe {
 public:
  virtual ~DeviceProbe() = default;
  // Short source name ("hwloc", "opencl", ...), used in warnings.
  virtual std::string_view Name() const = 0;
  virtual absl::StatusOr<std::vector<Device>> Probe() = 0;
};

// One kind-cpu Device "cpu0" for the whole node, with packages, numa_nodes, cores, pus,
// memory_bytes and numa<N>_cpuset attributes. Honours the cgroup cpuset in containers.
std::unique_ptr<DeviceProbe> MakeHwlocCpuProbe();

// Every device of every OpenCL platform. Returns no devices when the build has OpenCL off
// (HETEROACCEL_WITH_OPENCL) or no ICD is installed.
std::unique_ptr<DeviceProbe> MakeOpenClProbe();

// NVIDIA GPUs through NVML, loaded with dlopen from `library_path` at Probe() time. A
// missing library yields no devices and no error; a library whose driver is not loaded is
// an error (the GPU then shows up unsupported through MakePciGpuProbe).
std::unique_ptr<DeviceProbe> MakeNvmlProbe(std::string library_path = "libnvidia-ml.so.1");

// Known PCI and USB accelerators (Movidius, Coral Edge TPU, Hailo, Intel/Altera and Xilinx
// FPGAs) read from <sysfs_root>/bus/pci/devices/* and <sysfs_root>/bus/usb/devices/*. No
// runtime for them exists in this build, so all are reported kUnsupported with a reason.
// Display-class (GPU) devices are left to OpenCL and NVML.
std::unique_ptr<DeviceProbe> MakeBusProbe(std::string sysfs_root);

// Display-class PCI devices from NVIDIA, AMD and Intel, each reported as an unsupported GPU
// "pci-<bus id>". Meant to run beside the OpenCL and NVML probes: ProbeWith drops every
// entry whose pci_bus_id another probe reported, so what remains is a GPU no driver here
// can drive.
std::unique_ptr<DeviceProbe> MakePciGpuProbe(std::string sysfs_root);

struct ProbeOptions {
  std::string sysfs_root = "/sys";
  bool opencl = true;
  bool nvml = true;
  std::string nvml_library = "libnvidia-ml.so.1";
};

struct ProbeReport {
  // Sorted by kind, then id (digit runs compare as numbers: "cpu2" < "cpu10").
  std::vector<Device> devices;
  // One line per probe that failed or per device that had to be dropped.
  std::vector<std::string> warnings;
};

// Runs the standard probes: hwloc, OpenCL and NVML (when enabled), bus, PCI GPU.
// Never fails: a failing probe becomes a warning and the others still report.
ProbeReport ProbeAll(const ProbeOptions& options);

// ProbeAll's core over any probes, run in order. It does not take ownership, so a caller
// that re-probes periodically keeps its probes (and their loaded libraries) between calls;
// a temporary vector works too: ProbeWith(std::move(probes)). Null entries are skipped.
// Merging rules:
//  - Devices from different probes with the same pci_bus_id are one device. The survivor
//    is the ready one, then by source nvml > opencl > anything else; the others' attributes
//    are added to it where it lacks the key. So an NVML GPU keeps its "nvidia-GPU-..." id
//    and gains opencl_platform/opencl_device_index, and a bus-probe or PCI-GPU placeholder
//    disappears when a real driver reports the same address.
//  - Devices from the same probe are never merged with each other.
//  - A device whose id was already reported is dropped with a warning.
ProbeReport ProbeWith(std::span<const std::unique_ptr<DeviceProbe>> probes);

}  // namespace heteroaccel::devices

// The OpenCL-API-free half of the OpenCL probe: turning what clGetPlatformInfo and
// clGetDeviceInfo returned into Devices with stable ids. Kept apart from the API calls so
// it builds, and is tested, with OpenCL switched off. Functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "devices/device.h"

namespace heteroaccel::devices::internal {

// What the probe read about one OpenCL device.
struct OpenClDeviceInfo {
  int platform_index = 0;
  std::string platform_name;
  std::string platform_short;  // from PlatformShortName, unique per platform
  int device_index = 0;        // position in clGetDeviceIDs(CL_DEVICE_TYPE_ALL)
  std::string type;            // "cpu", "gpu", "accelerator", "custom"
  std::string name;
  std::string vendor;
  std::string driver_version;
  std::string opencl_version;
  uint64_t memory_bytes = 0;
  uint32_t compute_units = 0;
  bool available = true;
  std::string pci_bus_id;  // canonical, "" when the driver does not say
};

// A short lower-case token for a platform: its ICD suffix ("POCL" -> "pocl") when it has
// one, else the first word of its name; [a-z0-9] only, "cl" if nothing is left.
std::string PlatformShortName(std::string_view icd_suffix, std::string_view platform_name);

// GPU -> gpu, CPU -> cpu, accelerator -> fpga when the name or vendor mentions an FPGA
// maker (FPGA, Altera, Xilinx), else npu; anything else -> other.
DeviceKind OpenClKind(std::string_view type, std::string_view name, std::string_view vendor);

// Devices with ids "opencl-<platform_short>-<type><n>", where n counts devices of that
// type on that platform ordered by (name, pci_bus_id, device_index): the id depends on
// what is installed, not on the ICD's enumeration order among different models.
std::vector<Device> OpenClDevices(std::vector<OpenClDeviceInfo> infos);

}  // namespace heteroaccel::devices::internal

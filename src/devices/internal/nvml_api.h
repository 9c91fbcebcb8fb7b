// The few NVML declarations the NVML probe needs, written from NVIDIA's public API
// reference because no NVML header is installed on build machines. The library itself is
// loaded with dlopen at run time. Layouts and values here are part of NVML's stable C ABI.
#pragma once

namespace heteroaccel::devices::internal {

using NvmlReturn = int;  // nvmlReturn_t
inline constexpr NvmlReturn kNvmlSuccess = 0;
inline constexpr NvmlReturn kNvmlErrorDriverNotLoaded = 9;

struct NvmlDeviceOpaque;
using NvmlDevice = NvmlDeviceOpaque*;  // nvmlDevice_t

inline constexpr unsigned kNvmlNameBufferSize = 96;     // NVML_DEVICE_NAME_V2_BUFFER_SIZE
inline constexpr unsigned kNvmlUuidBufferSize = 96;     // >= NVML_DEVICE_UUID_V2_BUFFER_SIZE
inline constexpr unsigned kNvmlVersionBufferSize = 80;  // NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE

// nvmlPciInfo_t as filled by nvmlDeviceGetPciInfo_v2/_v3.
struct NvmlPciInfo {
  char bus_id_legacy[16];
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int pci_device_id;  // device id << 16 | vendor id
  unsigned int pci_subsystem_id;
  char bus_id[32];  // "00000000:03:00.0"
};

// nvmlMemory_t.
struct NvmlMemory {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};

using NvmlInitFn = NvmlReturn (*)();
using NvmlShutdownFn = NvmlReturn (*)();
using NvmlErrorStringFn = const char* (*)(NvmlReturn);
using NvmlSystemGetDriverVersionFn = NvmlReturn (*)(char*, unsigned int);
using NvmlDeviceGetCountFn = NvmlReturn (*)(unsigned int*);
using NvmlDeviceGetHandleByIndexFn = NvmlReturn (*)(unsigned int, NvmlDevice*);
using NvmlDeviceGetStringFn = NvmlReturn (*)(NvmlDevice, char*, unsigned int);
using NvmlDeviceGetPciInfoFn = NvmlReturn (*)(NvmlDevice, NvmlPciInfo*);
using NvmlDeviceGetMemoryInfoFn = NvmlReturn (*)(NvmlDevice, NvmlMemory*);
using NvmlDeviceGetCudaComputeCapabilityFn = NvmlReturn (*)(NvmlDevice, int*, int*);

}  // namespace heteroaccel::devices::internal

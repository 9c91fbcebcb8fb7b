// A stand-in for libnvidia-ml.so.1, built as a shared library so tests drive the NVML
// probe's real dlopen/dlsym path on machines without NVIDIA hardware.
//
// It reports two GPUs. Setting HETEROACCEL_FAKE_NVML_MODE=no_driver in the environment
// makes nvmlInit_v2 fail as when the kernel module is missing. fakeNvmlActiveInits()
// returns nvmlInit_v2 calls minus nvmlShutdown calls, so tests can check the probe
// releases NVML. Not thread-safe, like the tests that load it.

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "devices/internal/nvml_api.h"

namespace {

using heteroaccel::devices::internal::kNvmlErrorDriverNotLoaded;
using heteroaccel::devices::internal::kNvmlSuccess;
using heteroaccel::devices::internal::NvmlDevice;
using heteroaccel::devices::internal::NvmlMemory;
using heteroaccel::devices::internal::NvmlPciInfo;
using heteroaccel::devices::internal::NvmlReturn;

constexpr NvmlReturn kInvalidArgument = 2;
constexpr NvmlReturn kUninitialized = 1;
constexpr NvmlReturn kInsufficientSize = 7;

struct FakeGpu {
  const char* name;
  const char* uuid;
  const char* bus_id;
  unsigned long long memory;
};

constexpr auto kGpus = std::to_array<FakeGpu>({
    {"NVIDIA A2", "GPU-11111111-2222-3333-4444-555555555555", "00000000:17:00.0", 16ULL << 30},
    {"NVIDIA L4", "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "00000000:65:00.0", 24ULL << 30},
});
constexpr unsigned kGpuCount = kGpus.size();

int active_inits = 0;

const FakeGpu* Gpu(NvmlDevice device) {
  const auto index = reinterpret_cast<std::uintptr_t>(device);
  return index >= 1 && index <= kGpuCount ? &kGpus[index - 1] : nullptr;
}

NvmlReturn Copy(const char* text, char* out, unsigned int length) {
  const size_t size = std::strlen(text) + 1;
  if (size > length) return kInsufficientSize;
  std::memcpy(out, text, size);
  return kNvmlSuccess;
}

}  // namespace

// The exported names are NVML's ABI.
// NOLINTBEGIN(readability-identifier-naming)
extern "C" {

__attribute__((visibility("default"))) int fakeNvmlActiveInits() { return active_inits; }

__attribute__((visibility("default"))) NvmlReturn nvmlInit_v2() {
  const char* mode = std::getenv("HETEROACCEL_FAKE_NVML_MODE");
  if (mode != nullptr && std::string_view(mode) == "no_driver") return kNvmlErrorDriverNotLoaded;
  ++active_inits;
  return kNvmlSuccess;
}

__attribute__((visibility("default"))) NvmlReturn nvmlShutdown() {
  if (active_inits == 0) return kUninitialized;
  --active_inits;
  return kNvmlSuccess;
}

__attribute__((visibility("default"))) const char* nvmlErrorString(NvmlReturn code) {
  return code == kNvmlErrorDriverNotLoaded ? "Driver Not Loaded" : "Unknown Error";
}

__attribute__((visibility("default"))) NvmlReturn nvmlSystemGetDriverVersion(char* version,
                                                                             unsigned int length) {
  return Copy("550.54.15", version, length);
}

__attribute__((visibility("default"))) NvmlReturn nvmlDeviceGetCount_v2(unsigned int* count) {
  if (active_inits == 0) return kUninitialized;
  *count = kGpuCount;
  return kNvmlSuccess;
}

__attribute__((visibility("default"))) NvmlReturn nvmlDeviceGetHandleByIndex_v2(
    unsigned int index, NvmlDevice* device) {
  if (active_inits == 0) return kUninitialized;
  if (index >= kGpuCount) return kInvalidArgument;
  // Handles are opaque to callers; the fake encodes index + 1 in the pointer.
  *device = reinterpret_cast<NvmlDevice>(  // NOLINT(performance-no-int-to-ptr)
      static_cast<std::uintptr_t>(index) + 1);
  return kNvmlSuccess;
}

__attribute__((visibility("default"))) NvmlReturn nvmlDeviceGetName(NvmlDevice device, char* name,
                                                                    unsigned int length) {
  const FakeGpu* gpu = Gpu(device);
  return gpu ? Copy(gpu->name, name, length) : kInvalidArgument;
}

__attribute__((visibility("default"))) NvmlReturn nvmlDeviceGetUUID(NvmlDevice device, char* uuid,
                                                                    unsigned int length) {
  const FakeGpu* gpu = Gpu(device);
  return gpu ? Copy(gpu->uuid, uuid, length) : kInvalidArgument;
}

__attribute__((visibility("default"))) NvmlReturn nvmlDeviceGetPciInfo_v3(NvmlDevice device,
                                                                          NvmlPciInfo* pci) {
  const FakeGpu* gpu = Gpu(device);
  if (gpu == nullptr) return kInvalidArgument;
  std::memset(pci, 0, sizeof(*pci));
  std::strncpy(pci->bus_id, gpu->bus_id, sizeof(pci->bus_id) - 1);
  return kNvmlSuccess;
}

__attribute__((visibility("default"))) NvmlReturn nvmlDeviceGetMemoryInfo(NvmlDevice device,
                                                                          NvmlMemory* memory) {
  const FakeGpu* gpu = Gpu(device);
  if (gpu == nullptr) return kInvalidArgument;
  *memory = NvmlMemory{gpu->memory, gpu->memory, 0};
  return kNvmlSuccess;
}

}  // extern "C"
// NOLINTEND(readability-identifier-naming)

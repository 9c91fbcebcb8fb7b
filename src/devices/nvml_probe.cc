// NVIDIA GPUs through NVML, loaded at run time so the binary runs on nodes without the
// NVIDIA driver and builds on machines without its headers.

#include <dlfcn.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "devices/internal/nvml_api.h"
#include "devices/probe.h"

namespace heteroaccel::devices {
namespace {

using internal::kNvmlErrorDriverNotLoaded;
using internal::kNvmlNameBufferSize;
using internal::kNvmlSuccess;
using internal::kNvmlUuidBufferSize;
using internal::kNvmlVersionBufferSize;
using internal::NvmlDevice;
using internal::NvmlDeviceGetCountFn;
using internal::NvmlDeviceGetCudaComputeCapabilityFn;
using internal::NvmlDeviceGetHandleByIndexFn;
using internal::NvmlDeviceGetMemoryInfoFn;
using internal::NvmlDeviceGetPciInfoFn;
using internal::NvmlDeviceGetStringFn;
using internal::NvmlErrorStringFn;
using internal::NvmlInitFn;
using internal::NvmlMemory;
using internal::NvmlPciInfo;
using internal::NvmlReturn;
using internal::NvmlShutdownFn;
using internal::NvmlSystemGetDriverVersionFn;

struct LibraryCloser {
  void operator()(void* handle) const { dlclose(handle); }
};
using LibraryHandle = std::unique_ptr<void, LibraryCloser>;

// Entry points resolved from the library. The optional ones are null when the driver
// predates them; the device is then reported without that attribute.
struct NvmlApi {
  NvmlInitFn init = nullptr;
  NvmlShutdownFn shutdown = nullptr;
  NvmlDeviceGetCountFn get_count = nullptr;
  NvmlDeviceGetHandleByIndexFn get_handle = nullptr;
  NvmlDeviceGetStringFn get_name = nullptr;
  NvmlDeviceGetStringFn get_uuid = nullptr;
  NvmlErrorStringFn error_string = nullptr;               // optional
  NvmlSystemGetDriverVersionFn driver_version = nullptr;  // optional
  NvmlDeviceGetPciInfoFn get_pci = nullptr;               // optional
  NvmlDeviceGetMemoryInfoFn get_memory = nullptr;         // optional
  NvmlDeviceGetCudaComputeCapabilityFn get_cc = nullptr;  // optional
};

template <typename Fn>
Fn Symbol(void* library, const char* name) {
  return reinterpret_cast<Fn>(dlsym(library, name));
}

absl::StatusOr<NvmlApi> Resolve(void* library, const std::string& path) {
  NvmlApi api;
  api.init = Symbol<NvmlInitFn>(library, "nvmlInit_v2");
  api.shutdown = Symbol<NvmlShutdownFn>(library, "nvmlShutdown");
  api.get_count = Symbol<NvmlDeviceGetCountFn>(library, "nvmlDeviceGetCount_v2");
  api.get_handle = Symbol<NvmlDeviceGetHandleByIndexFn>(library, "nvmlDeviceGetHandleByIndex_v2");
  api.get_name = Symbol<NvmlDeviceGetStringFn>(library, "nvmlDeviceGetName");
  api.get_uuid = Symbol<NvmlDeviceGetStringFn>(library, "nvmlDeviceGetUUID");
  if (!api.init || !api.shutdown || !api.get_count || !api.get_handle || !api.get_name ||
      !api.get_uuid) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " lacks the NVML v2 entry points; upgrade the NVIDIA driver"));
  }
  api.error_string = Symbol<NvmlErrorStringFn>(library, "nvmlErrorString");
  api.driver_version = Symbol<NvmlSystemGetDriverVersionFn>(library, "nvmlSystemGetDriverVersion");
  api.get_pci = Symbol<NvmlDeviceGetPciInfoFn>(library, "nvmlDeviceGetPciInfo_v3");
  if (!api.get_pci)
    api.get_pci = Symbol<NvmlDeviceGetPciInfoFn>(library, "nvmlDeviceGetPciInfo_v2");
  api.get_memory = Symbol<NvmlDeviceGetMemoryInfoFn>(library, "nvmlDeviceGetMemoryInfo");
  api.get_cc =
      Symbol<NvmlDeviceGetCudaComputeCapabilityFn>(library, "nvmlDeviceGetCudaComputeCapability");
  return api;
}

// The C string in `buffer`, which a misbehaving library may have left unterminated.
template <size_t N>
std::string Terminated(const std::array<char, N>& buffer) {
  return std::string(buffer.data(), strnlen(buffer.data(), N));
}

std::string ErrorText(const NvmlApi& api, NvmlReturn code) {
  const char* text = api.error_string ? api.error_string(code) : nullptr;
  return absl::StrCat(text ? text : "NVML error", " (", code, ")");
}

std::string PciBusIdOf(const NvmlApi& api, NvmlDevice handle) {
  if (!api.get_pci) return "";
  NvmlPciInfo pci{};
  if (api.get_pci(handle, &pci) != kNvmlSuccess) return "";
  absl::StatusOr<std::string> bus_id =
      NormalizePciBusId(std::string(pci.bus_id, strnlen(pci.bus_id, sizeof(pci.bus_id))));
  if (bus_id.ok()) return *std::move(bus_id);
  // Older drivers fill only the numeric fields; NVML reports function 0 for GPUs.
  bus_id = NormalizePciBusId(absl::StrCat(absl::Hex(pci.domain), ":", absl::Hex(pci.bus), ":",
                                          absl::Hex(pci.device), ".0"));
  return bus_id.ok() ? *std::move(bus_id) : "";
}

// One GPU, or nullopt when NVML cannot identify it (lost GPU, no permission): without a
// UUID there is no stable id, and the PCI GPU probe still shows the card as unsupported.
std::optional<Device> ReadGpu(const NvmlApi& api, unsigned int index,
                              const std::string& driver_version) {
  NvmlDevice handle = nullptr;
  if (api.get_handle(index, &handle) != kNvmlSuccess) return std::nullopt;
  std::array<char, kNvmlUuidBufferSize> uuid_buffer{};
  if (api.get_uuid(handle, uuid_buffer.data(), uuid_buffer.size()) != kNvmlSuccess) {
    return std::nullopt;
  }
  const std::string uuid = Terminated(uuid_buffer);
  if (uuid.empty()) return std::nullopt;
  std::array<char, kNvmlNameBufferSize> name_buffer{};
  const std::string name =
      api.get_name(handle, name_buffer.data(), name_buffer.size()) == kNvmlSuccess
          ? Terminated(name_buffer)
          : "";

  Device device;
  device.id = absl::StrCat("nvidia-", uuid);
  device.kind = DeviceKind::kGpu;
  device.name = name.empty() ? "NVIDIA GPU" : name;
  device.vendor = "NVIDIA";
  device.source = "nvml";
  device.SetAttribute("nvml_index", absl::StrCat(index));
  device.SetAttribute("uuid", uuid);
  if (std::string bus_id = PciBusIdOf(api, handle); !bus_id.empty()) {
    device.SetAttribute("pci_bus_id", std::move(bus_id));
  }
  NvmlMemory memory{};
  if (api.get_memory && api.get_memory(handle, &memory) == kNvmlSuccess) {
    device.SetAttribute("memory_bytes", absl::StrCat(memory.total));
  }
  int major = 0, minor = 0;
  if (api.get_cc && api.get_cc(handle, &major, &minor) == kNvmlSuccess) {
    device.SetAttribute("compute_capability", absl::StrCat(major, ".", minor));
  }
  if (!driver_version.empty()) device.SetAttribute("driver_version", driver_version);
  return device;
}

class NvmlProbe final : public DeviceProbe {
 public:
  explicit NvmlProbe(std::string library_path) : library_path_(std::move(library_path)) {}

  [[nodiscard]] std::string_view Name() const override { return "nvml"; }

  absl::StatusOr<std::vector<Device>> Probe() override {
    ASSIGN_OR_RETURN(const bool loaded, Load());
    if (!loaded) return std::vector<Device>{};

    if (const NvmlReturn rc = api_.init(); rc != kNvmlSuccess) {
      if (rc == kNvmlErrorDriverNotLoaded) {
        return absl::UnavailableError(absl::StrCat(
            library_path_, " is installed but the NVIDIA kernel driver is not loaded (",
            ErrorText(api_, rc), "); load the nvidia module or reinstall the driver"));
      }
      return absl::UnavailableError(absl::StrCat("nvmlInit failed: ", ErrorText(api_, rc)));
    }
    absl::StatusOr<std::vector<Device>> devices = ProbeInitialized();
    api_.shutdown();
    return devices;
  }

 private:
  // True when the library is loaded; false when it is absent (not an error).
  absl::StatusOr<bool> Load() {
    if (library_) return true;
    void* raw = dlopen(library_path_.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (raw == nullptr) {
      // A path that names an existing file that fails to load is a broken install.
      std::error_code ec;
      if (library_path_.find('/') != std::string::npos &&
          std::filesystem::exists(library_path_, ec)) {
        const char* error = dlerror();
        return absl::FailedPreconditionError(
            absl::StrCat("cannot load ", library_path_, ": ", error ? error : "dlopen failed"));
      }
      return false;
    }
    LibraryHandle library(raw);
    ASSIGN_OR_RETURN(api_, Resolve(library.get(), library_path_));
    library_ = std::move(library);
    return true;
  }

  absl::StatusOr<std::vector<Device>> ProbeInitialized() {
    unsigned int count = 0;
    if (const NvmlReturn rc = api_.get_count(&count); rc != kNvmlSuccess) {
      return absl::UnavailableError(
          absl::StrCat("nvmlDeviceGetCount failed: ", ErrorText(api_, rc)));
    }
    std::string driver_version;
    std::array<char, kNvmlVersionBufferSize> version{};
    if (api_.driver_version &&
        api_.driver_version(version.data(), version.size()) == kNvmlSuccess) {
      driver_version = Terminated(version);
    }
    std::vector<Device> devices;
    for (unsigned int i = 0; i < count; ++i) {
      if (std::optional<Device> gpu = ReadGpu(api_, i, driver_version)) {
        devices.push_back(*std::move(gpu));
      }
    }
    return devices;
  }

  const std::string library_path_;
  LibraryHandle library_;
  NvmlApi api_;
};

}  // namespace

std::unique_ptr<DeviceProbe> MakeNvmlProbe(std::string library_path) {
  return std::make_unique<NvmlProbe>(std::move(library_path));
}

}  // namespace heteroaccel::devices

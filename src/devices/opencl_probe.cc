// OpenCL devices of every installed platform (ICD).
//
// The only file that depends on the HETEROACCEL_WITH_OPENCL build option: with OpenCL off,
// MakeOpenClProbe returns a probe that reports nothing. Turning API answers into Devices
// lives in internal/opencl_devices.h so it is tested either way.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "devices/internal/opencl_devices.h"
#include "devices/probe.h"

#ifdef HETEROACCEL_WITH_OPENCL
#include <CL/cl.h>
#include <CL/cl_ext.h>

#include <array>
#include <cstdint>
#include <optional>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#endif

namespace heteroaccel::devices {
namespace {

#ifdef HETEROACCEL_WITH_OPENCL

// NVIDIA's cl_nv_device_attribute_query tokens are not in the Khronos headers.
constexpr cl_device_info kPciBusIdNv = 0x4008;
constexpr cl_device_info kPciSlotIdNv = 0x4009;
constexpr cl_device_info kPciDomainIdNv = 0x400A;

template <typename T>
std::optional<T> DeviceValue(cl_device_id device, cl_device_info param) {
  T value{};
  if (clGetDeviceInfo(device, param, sizeof(value), &value, nullptr) != CL_SUCCESS) {
    return std::nullopt;
  }
  return value;
}

std::string DeviceString(cl_device_id device, cl_device_info param) {
  size_t size = 0;
  if (clGetDeviceInfo(device, param, 0, nullptr, &size) != CL_SUCCESS || size == 0) return "";
  std::string value(size, '\0');
  if (clGetDeviceInfo(device, param, size, value.data(), nullptr) != CL_SUCCESS) return "";
  value.resize(value.find('\0') == std::string::npos ? size : value.find('\0'));
  return value;
}

std::string PlatformString(cl_platform_id platform, cl_platform_info param) {
  size_t size = 0;
  if (clGetPlatformInfo(platform, param, 0, nullptr, &size) != CL_SUCCESS || size == 0) {
    return "";
  }
  std::string value(size, '\0');
  if (clGetPlatformInfo(platform, param, size, value.data(), nullptr) != CL_SUCCESS) return "";
  value.resize(value.find('\0') == std::string::npos ? size : value.find('\0'));
  return value;
}

std::string TypeName(cl_device_type type) {
  if (type & CL_DEVICE_TYPE_GPU) return "gpu";
  if (type & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
  if (type & CL_DEVICE_TYPE_CPU) return "cpu";
  return "custom";
}

std::string FormatBusId(uint32_t domain, uint32_t bus, uint32_t dev, uint32_t function) {
  return absl::StrFormat("%04x:%02x:%02x.%x", domain & 0xffff, bus & 0xff, dev & 0x1f,
                         function & 7);
}

// The device's PCI address from whichever extension the driver offers, "" when none does.
// The AMD query carries no PCI domain; domain 0 is assumed, which is right on all but
// multi-segment servers.
std::string PciBusId(cl_device_id device, const std::string& extensions) {
  if (absl::StrContains(extensions, "cl_khr_pci_bus_info")) {
    if (auto info = DeviceValue<cl_device_pci_bus_info_khr>(device, CL_DEVICE_PCI_BUS_INFO_KHR)) {
      return FormatBusId(info->pci_domain, info->pci_bus, info->pci_device, info->pci_function);
    }
  }
  if (absl::StrContains(extensions, "cl_nv_device_attribute_query")) {
    const auto bus = DeviceValue<cl_uint>(device, kPciBusIdNv);
    const auto slot = DeviceValue<cl_uint>(device, kPciSlotIdNv);
    if (bus && slot) {
      const cl_uint domain = DeviceValue<cl_uint>(device, kPciDomainIdNv).value_or(0);
      return FormatBusId(domain, *bus, *slot >> 3, *slot & 7);
    }
  }
  if (absl::StrContains(extensions, "cl_amd_device_attribute_query")) {
    const auto topology = DeviceValue<cl_device_topology_amd>(device, CL_DEVICE_TOPOLOGY_AMD);
    if (topology && topology->raw.type == CL_DEVICE_TOPOLOGY_TYPE_PCIE_AMD) {
      return FormatBusId(0, static_cast<unsigned char>(topology->pcie.bus),
                         static_cast<unsigned char>(topology->pcie.device),
                         static_cast<unsigned char>(topology->pcie.function));
    }
  }
  return "";
}

internal::OpenClDeviceInfo ReadDevice(cl_device_id device) {
  internal::OpenClDeviceInfo info;
  info.type = TypeName(DeviceValue<cl_device_type>(device, CL_DEVICE_TYPE).value_or(0));
  info.name = DeviceString(device, CL_DEVICE_NAME);
  info.vendor = DeviceString(device, CL_DEVICE_VENDOR);
  info.driver_version = DeviceString(device, CL_DRIVER_VERSION);
  info.opencl_version = DeviceString(device, CL_DEVICE_VERSION);
  info.memory_bytes = DeviceValue<cl_ulong>(device, CL_DEVICE_GLOBAL_MEM_SIZE).value_or(0);
  info.compute_units = DeviceValue<cl_uint>(device, CL_DEVICE_MAX_COMPUTE_UNITS).value_or(0);
  info.available = DeviceValue<cl_bool>(device, CL_DEVICE_AVAILABLE).value_or(CL_TRUE) == CL_TRUE;
  info.pci_bus_id = PciBusId(device, DeviceString(device, CL_DEVICE_EXTENSIONS));
  return info;
}

template <typename Handle, typename Query>
absl::StatusOr<std::vector<Handle>> Enumerate(Query query, cl_int none_code, const char* what) {
  cl_uint count = 0;
  cl_int err = query(0, nullptr, &count);
  if (err == none_code || (err == CL_SUCCESS && count == 0)) return std::vector<Handle>{};
  if (err != CL_SUCCESS) {
    return absl::InternalError(absl::StrCat(what, " failed with OpenCL error ", err));
  }
  std::vector<Handle> handles(count);
  err = query(count, handles.data(), nullptr);
  if (err != CL_SUCCESS) {
    return absl::InternalError(absl::StrCat(what, " failed with OpenCL error ", err));
  }
  return handles;
}

class OpenClProbe final : public DeviceProbe {
 public:
  [[nodiscard]] std::string_view Name() const override { return "opencl"; }

  // A platform whose devices cannot be listed is skipped while others answer; the probe
  // fails only when that leaves nothing, so one broken ICD does not hide working ones.
  absl::StatusOr<std::vector<Device>> Probe() override {
    absl::StatusOr<std::vector<cl_platform_id>> platforms =
        Enumerate<cl_platform_id>([](cl_uint n, cl_platform_id* out,
                                     cl_uint* count) { return clGetPlatformIDs(n, out, count); },
                                  CL_PLATFORM_NOT_FOUND_KHR, "clGetPlatformIDs");
    if (!platforms.ok()) return platforms.status();

    std::vector<internal::OpenClDeviceInfo> infos;
    std::set<std::string> used_shorts;
    absl::Status first_error;
    for (size_t p = 0; p < platforms->size(); ++p) {
      const cl_platform_id platform = (*platforms)[p];
      const std::string name = PlatformString(platform, CL_PLATFORM_NAME);
      std::string short_name =
          internal::PlatformShortName(PlatformString(platform, CL_PLATFORM_ICD_SUFFIX_KHR), name);
      for (int n = 2; used_shorts.count(short_name) > 0; ++n) {
        short_name = absl::StrCat(internal::PlatformShortName("", name), n);
      }
      used_shorts.insert(short_name);

      absl::StatusOr<std::vector<cl_device_id>> devices = Enumerate<cl_device_id>(
          [platform](cl_uint n, cl_device_id* out, cl_uint* count) {
            return clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, n, out, count);
          },
          CL_DEVICE_NOT_FOUND, "clGetDeviceIDs");
      if (!devices.ok()) {
        if (first_error.ok()) {
          first_error =
              absl::Status(devices.status().code(),
                           absl::StrCat("platform \"", name, "\": ", devices.status().message()));
        }
        continue;
      }
      for (size_t d = 0; d < devices->size(); ++d) {
        internal::OpenClDeviceInfo info = ReadDevice((*devices)[d]);
        info.platform_index = static_cast<int>(p);
        info.platform_name = name;
        info.platform_short = short_name;
        info.device_index = static_cast<int>(d);
        infos.push_back(std::move(info));
      }
    }
    if (infos.empty() && !first_error.ok()) return first_error;
    return internal::OpenClDevices(std::move(infos));
  }
};

#else  // !HETEROACCEL_WITH_OPENCL

class OpenClProbe final : public DeviceProbe {
 public:
  [[nodiscard]] std::string_view Name() const override { return "opencl"; }
  absl::StatusOr<std::vector<Device>> Probe() override { return std::vector<Device>{}; }
};

#endif  // HETEROACCEL_WITH_OPENCL

}  // namespace

std::unique_ptr<DeviceProbe> MakeOpenClProbe() { return std::make_unique<OpenClProbe>(); }

}  // namespace heteroaccel::devices

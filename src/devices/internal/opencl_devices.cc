#include "devices/internal/opencl_devices.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "devices/internal/absl_view.h"

namespace heteroaccel::devices::internal {
namespace {

std::string Token(std::string_view text) {
  std::string token;
  for (const char c : text) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c))) {
      token.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
    } else if (!token.empty()) {
      break;  // first word only
    }
  }
  return token;
}

bool MentionsFpga(std::string_view text) {
  const std::string lower = absl::AsciiStrToLower(AbslView(text));
  return absl::StrContains(lower, "fpga") || absl::StrContains(lower, "altera") ||
         absl::StrContains(lower, "xilinx");
}

Device ToDevice(OpenClDeviceInfo info, int type_index) {
  Device device;
  device.id = absl::StrCat("opencl-", info.platform_short, "-", info.type, type_index);
  device.kind = OpenClKind(info.type, info.name, info.vendor);
  device.name = std::move(info.name);
  device.vendor = std::move(info.vendor);
  device.source = "opencl";
  if (!info.available) {
    device.state = DeviceState::kUnsupported;
    device.state_reason =
        "the OpenCL driver reports the device unavailable (busy in exclusive mode, or a driver "
        "fault); check the vendor's tools and dmesg";
  }
  device.SetAttribute("opencl_platform", std::move(info.platform_name));
  device.SetAttribute("opencl_platform_index", absl::StrCat(info.platform_index));
  device.SetAttribute("opencl_device_index", absl::StrCat(info.device_index));
  device.SetAttribute("opencl_type", std::move(info.type));
  if (!info.opencl_version.empty())
    device.SetAttribute("opencl_version", std::move(info.opencl_version));
  device.SetAttribute("memory_bytes", absl::StrCat(info.memory_bytes));
  device.SetAttribute("compute_units", absl::StrCat(info.compute_units));
  if (!info.driver_version.empty())
    device.SetAttribute("driver_version", std::move(info.driver_version));
  if (!info.pci_bus_id.empty()) device.SetAttribute("pci_bus_id", std::move(info.pci_bus_id));
  return device;
}

}  // namespace

std::string PlatformShortName(std::string_view icd_suffix, std::string_view platform_name) {
  std::string token = Token(icd_suffix);
  if (token.empty()) token = Token(platform_name);
  return token.empty() ? "cl" : token;
}

DeviceKind OpenClKind(std::string_view type, std::string_view name, std::string_view vendor) {
  if (type == "gpu") return DeviceKind::kGpu;
  if (type == "cpu") return DeviceKind::kCpu;
  if (type == "accelerator") {
    return MentionsFpga(name) || MentionsFpga(vendor) ? DeviceKind::kFpga : DeviceKind::kNpu;
  }
  return DeviceKind::kOther;
}

std::vector<Device> OpenClDevices(std::vector<OpenClDeviceInfo> infos) {
  const auto key = [](const OpenClDeviceInfo& i) {
    return std::tie(i.platform_index, i.type, i.name, i.pci_bus_id, i.device_index);
  };
  std::sort(infos.begin(), infos.end(),
            [&](const OpenClDeviceInfo& a, const OpenClDeviceInfo& b) { return key(a) < key(b); });
  std::map<std::pair<int, std::string>, int> next_index;  // (platform, type) -> next n
  std::vector<Device> devices;
  devices.reserve(infos.size());
  for (OpenClDeviceInfo& info : infos) {
    const int n = next_index[{info.platform_index, info.type}]++;
    devices.push_back(ToDevice(std::move(info), n));
  }
  return devices;
}

}  // namespace heteroaccel::devices::internal

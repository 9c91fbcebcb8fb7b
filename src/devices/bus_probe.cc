// Bus probes: known accelerators on PCI and USB, and GPUs no driver here can see.
//
// Nothing in this build can run a model on these devices, so every one is reported
// unsupported with a reason naming the runtime to install; the point is that an operator
// (and the device plugin) sees them instead of silence.

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "devices/internal/sysfs.h"
#include "devices/probe.h"

namespace heteroaccel::devices {
namespace {

using internal::Hex4;
using internal::PciFunction;
using internal::UsbDevice;

enum class Bus { kPci, kUsb };

constexpr int32_t kAnyDevice = -1;
constexpr uint32_t kPciBridgeClass = 0x06;
constexpr uint32_t kPciDisplayClass = 0x03;

struct KnownAccelerator {
  Bus bus;
  uint32_t vendor;
  int32_t device;  // PCI device id or USB product id; kAnyDevice matches every one
  DeviceKind kind;
  const char* name;
  const char* vendor_name;
  const char* reason;
};

constexpr const char* kNoOpenVino =
    "no OpenVINO runtime on this node; install OpenVINO with the MYRIAD plugin and the "
    "Movidius udev rules";
constexpr const char* kNoEdgeTpu =
    "no Edge TPU runtime on this node; install libedgetpu1-std and the Coral udev rules";
constexpr const char* kNoEdgeTpuPcie =
    "no Edge TPU runtime on this node; install libedgetpu1-std and the gasket-dkms (apex) "
    "driver";
constexpr const char* kNoIntelFpga =
    "no FPGA runtime on this node; install the board's OPAE/oneAPI BSP and its OpenCL ICD";
constexpr const char* kNoXrt =
    "no Xilinx runtime on this node; install XRT and the card's deployment shell";
constexpr const char* kNoHailoRt =
    "no HailoRT runtime on this node; install HailoRT and the hailo_pci driver";

// Exact ids are listed before vendor-wide entries; the first match wins.
constexpr auto kKnownAccelerators = std::to_array<KnownAccelerator>({
    {Bus::kUsb, 0x03e7, 0x2150, DeviceKind::kNpu, "Intel Movidius Neural Compute Stick", "Intel",
     kNoOpenVino},
    {Bus::kUsb, 0x03e7, 0x2485, DeviceKind::kNpu, "Intel Movidius Myriad X (NCS2)", "Intel",
     kNoOpenVino},
    {Bus::kUsb, 0x03e7, 0xf63b, DeviceKind::kNpu, "Intel Movidius MA2X8X (booted)", "Intel",
     kNoOpenVino},
    {Bus::kUsb, 0x1a6e, 0x089a, DeviceKind::kNpu, "Google Coral USB Accelerator (Edge TPU)",
     "Google", kNoEdgeTpu},
    {Bus::kUsb, 0x18d1, 0x9302, DeviceKind::kNpu, "Google Coral USB Accelerator (Edge TPU, booted)",
     "Google", kNoEdgeTpu},
    {Bus::kPci, 0x1ac1, 0x089a, DeviceKind::kNpu, "Google Coral Edge TPU (PCIe/M.2)", "Google",
     kNoEdgeTpuPcie},
    {Bus::kPci, 0x1e60, 0x2864, DeviceKind::kNpu, "Hailo-8 AI accelerator", "Hailo", kNoHailoRt},
    {Bus::kPci, 0x8086, 0x09c4, DeviceKind::kFpga, "Intel PAC with Arria 10 GX FPGA", "Intel",
     kNoIntelFpga},
    {Bus::kPci, 0x8086, 0x0b2b, DeviceKind::kFpga, "Intel FPGA PAC D5005 (Stratix 10)", "Intel",
     kNoIntelFpga},
    {Bus::kPci, 0x8086, 0x0b30, DeviceKind::kFpga, "Intel FPGA PAC N3000", "Intel", kNoIntelFpga},
    {Bus::kPci, 0x1172, kAnyDevice, DeviceKind::kFpga, "Intel/Altera FPGA", "Intel (Altera)",
     kNoIntelFpga},
    {Bus::kPci, 0x10ee, kAnyDevice, DeviceKind::kFpga, "Xilinx FPGA", "AMD Xilinx", kNoXrt},
});

const KnownAccelerator* FindKnown(Bus bus, uint32_t vendor, uint32_t device) {
  for (const KnownAccelerator& known : kKnownAccelerators) {
    if (known.bus == bus && known.vendor == vendor &&
        (known.device == kAnyDevice || static_cast<uint32_t>(known.device) == device)) {
      return &known;
    }
  }
  return nullptr;
}

std::string DriverNote(const PciFunction& function) {
  return function.driver.empty() ? "; no kernel driver is bound to it"
                                 : absl::StrCat("; kernel driver in use: ", function.driver);
}

void AddPciAttributes(const PciFunction& function, Device& device) {
  device.SetAttribute("pci_bus_id", function.bus_id);
  device.SetAttribute("pci_vendor_id", Hex4(function.vendor));
  device.SetAttribute("pci_device_id", Hex4(function.device));
  device.SetAttribute("pci_class", absl::StrFormat("%06x", function.class_code));
  if (!function.driver.empty()) device.SetAttribute("kernel_driver", function.driver);
}

Device PciAccelerator(const PciFunction& function, const KnownAccelerator& known) {
  Device device;
  device.id = absl::StrCat("pci-", function.bus_id);
  device.kind = known.kind;
  device.name = known.name;
  device.vendor = known.vendor_name;
  device.source = "pci";
  device.state = DeviceState::kUnsupported;
  device.state_reason = absl::StrCat(known.reason, DriverNote(function));
  AddPciAttributes(function, device);
  return device;
}

Device UsbAccelerator(const UsbDevice& usb, const KnownAccelerator& known) {
  Device device;
  device.id = absl::StrCat("usb-", usb.path);
  device.kind = known.kind;
  device.name = known.name;
  device.vendor = known.vendor_name;
  device.source = "usb";
  device.state = DeviceState::kUnsupported;
  device.state_reason = known.reason;
  device.SetAttribute("usb_path", usb.path);
  device.SetAttribute("usb_vendor_id", Hex4(usb.vendor));
  device.SetAttribute("usb_product_id", Hex4(usb.product));
  if (!usb.product_name.empty()) device.SetAttribute("usb_product", usb.product_name);
  if (!usb.serial.empty()) device.SetAttribute("usb_serial", usb.serial);
  return device;
}

class BusProbe final : public DeviceProbe {
 public:
  explicit BusProbe(std::string sysfs_root) : sysfs_root_(std::move(sysfs_root)) {}

  [[nodiscard]] std::string_view Name() const override { return "bus"; }

  absl::StatusOr<std::vector<Device>> Probe() override {
    std::vector<Device> devices;
    ASSIGN_OR_RETURN(const std::vector<PciFunction> pci, internal::ScanPci(sysfs_root_));
    for (const PciFunction& function : pci) {
      const uint32_t base_class = function.class_code >> 16;
      // A vendor-wide match must not claim the PCIe switch that sits on the same card.
      if (base_class == kPciDisplayClass || base_class == kPciBridgeClass) continue;
      if (const KnownAccelerator* known = FindKnown(Bus::kPci, function.vendor, function.device)) {
        devices.push_back(PciAccelerator(function, *known));
      }
    }
    ASSIGN_OR_RETURN(const std::vector<UsbDevice> usb, internal::ScanUsb(sysfs_root_));
    for (const UsbDevice& usb_device : usb) {
      if (const KnownAccelerator* known =
              FindKnown(Bus::kUsb, usb_device.vendor, usb_device.product)) {
        devices.push_back(UsbAccelerator(usb_device, *known));
      }
    }
    return devices;
  }

 private:
  const std::filesystem::path sysfs_root_;
};

struct GpuVendor {
  uint32_t pci_vendor;
  const char* name;
  const char* reason;
};

constexpr auto kGpuVendors = std::to_array<GpuVendor>({
    {0x10de, "NVIDIA",
     "neither NVML nor an OpenCL ICD on this node reports this GPU; install the NVIDIA "
     "driver (libnvidia-ml.so.1, nvidia kernel module)"},
    {0x1002, "AMD",
     "no OpenCL ICD on this node reports this GPU; install ROCm OpenCL (rocm-opencl-runtime) "
     "or Mesa's OpenCL ICD"},
    {0x8086, "Intel",
     "no OpenCL ICD on this node reports this GPU; install intel-opencl-icd "
     "(Intel compute runtime)"},
});

class PciGpuProbe final : public DeviceProbe {
 public:
  explicit PciGpuProbe(std::string sysfs_root) : sysfs_root_(std::move(sysfs_root)) {}

  [[nodiscard]] std::string_view Name() const override { return "pci-gpu"; }

  absl::StatusOr<std::vector<Device>> Probe() override {
    std::vector<Device> devices;
    ASSIGN_OR_RETURN(const std::vector<PciFunction> pci, internal::ScanPci(sysfs_root_));
    for (const PciFunction& function : pci) {
      if (function.class_code >> 16 != kPciDisplayClass) continue;
      for (const GpuVendor& vendor : kGpuVendors) {
        if (vendor.pci_vendor == function.vendor) devices.push_back(Gpu(function, vendor));
      }
    }
    return devices;
  }

 private:
  static Device Gpu(const PciFunction& function, const GpuVendor& vendor) {
    Device device;
    device.id = absl::StrCat("pci-", function.bus_id);
    device.kind = DeviceKind::kGpu;
    device.name =
        absl::StrCat(vendor.name, " GPU [", Hex4(function.vendor), ":", Hex4(function.device), "]");
    device.vendor = vendor.name;
    device.source = "pci";
    device.state = DeviceState::kUnsupported;
    device.state_reason = absl::StrCat(vendor.reason, DriverNote(function));
    AddPciAttributes(function, device);
    return device;
  }

  const std::filesystem::path sysfs_root_;
};

}  // namespace

std::unique_ptr<DeviceProbe> MakeBusProbe(std::string sysfs_root) {
  return std::make_unique<BusProbe>(std::move(sysfs_root));
}

std::unique_ptr<DeviceProbe> MakePciGpuProbe(std::string sysfs_root) {
  return std::make_unique<PciGpuProbe>(std::move(sysfs_root));
}

}  // namespace heteroaccel::devices

#include "devices/internal/sysfs.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "devices/device.h"

namespace heteroaccel::devices::internal {
namespace fs = std::filesystem;

std::optional<std::string> ReadTrimmed(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::string(absl::StripAsciiWhitespace(contents.str()));
}

std::optional<uint32_t> ReadHex(const fs::path& file) {
  const std::optional<std::string> text = ReadTrimmed(file);
  if (!text.has_value() || text->empty() || text->size() > 10) return std::nullopt;
  uint32_t value = 0;
  if (!absl::SimpleHexAtoi(*text, &value)) return std::nullopt;
  return value;
}

std::vector<std::string> ListEntries(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string LinkTargetName(const fs::path& link) {
  std::error_code ec;
  const fs::path target = fs::read_symlink(link, ec);
  if (ec) return "";
  return target.filename().string();
}

namespace {

absl::Status CheckRoot(const fs::path& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    return absl::NotFoundError(
        absl::StrCat("sysfs root \"", root.string(), "\" is not a readable directory"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<PciFunction>> ScanPci(const fs::path& root) {
  if (absl::Status s = CheckRoot(root); !s.ok()) return s;
  const fs::path bus_dir = root / "bus" / "pci" / "devices";
  std::vector<PciFunction> functions;
  for (const std::string& name : ListEntries(bus_dir)) {
    absl::StatusOr<std::string> bus_id = NormalizePciBusId(name);
    if (!bus_id.ok()) continue;  // not a PCI address: ignore stray entries
    const fs::path dir = bus_dir / name;
    const std::optional<uint32_t> vendor = ReadHex(dir / "vendor");
    const std::optional<uint32_t> device = ReadHex(dir / "device");
    const std::optional<uint32_t> class_code = ReadHex(dir / "class");
    if (!vendor || !device || !class_code) continue;  // removed while scanning
    functions.push_back(PciFunction{.bus_id = *std::move(bus_id),
                                    .vendor = *vendor,
                                    .device = *device,
                                    .class_code = *class_code,
                                    .driver = LinkTargetName(dir / "driver")});
  }
  std::sort(functions.begin(), functions.end(),
            [](const PciFunction& a, const PciFunction& b) { return a.bus_id < b.bus_id; });
  return functions;
}

absl::StatusOr<std::vector<UsbDevice>> ScanUsb(const fs::path& root) {
  if (absl::Status s = CheckRoot(root); !s.ok()) return s;
  const fs::path bus_dir = root / "bus" / "usb" / "devices";
  std::vector<UsbDevice> devices;
  for (const std::string& name : ListEntries(bus_dir)) {
    // Interfaces ("1-2:1.0") carry no idVendor; root hubs ("usb1") are never accelerators.
    if (name.find(':') != std::string::npos || name.rfind("usb", 0) == 0) continue;
    const fs::path dir = bus_dir / name;
    const std::optional<uint32_t> vendor = ReadHex(dir / "idVendor");
    const std::optional<uint32_t> product = ReadHex(dir / "idProduct");
    if (!vendor || !product) continue;
    devices.push_back(UsbDevice{.path = name,
                                .vendor = *vendor,
                                .product = *product,
                                .product_name = ReadTrimmed(dir / "product").value_or(""),
                                .serial = ReadTrimmed(dir / "serial").value_or("")});
  }
  return devices;
}

std::string Hex4(uint32_t value) { return absl::StrFormat("%04x", value); }

}  // namespace heteroaccel::devices::internal

#include "devices/testing/fake_sysfs.h"

#include <cstdlib>
#include <fstream>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"

namespace heteroaccel::devices::testing {
namespace fs = std::filesystem;
namespace {

absl::Status FromErrorCode(const std::error_code& ec, const fs::path& path) {
  return absl::InternalError(absl::StrCat(path.string(), ": ", ec.message()));
}

absl::Status MakeDirs(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  return ec ? FromErrorCode(ec, dir) : absl::OkStatus();
}

absl::Status WriteFile(const fs::path& file, const std::string& contents) {
  std::ofstream out(file);
  out << contents << "\n";
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", file.string()));
  return absl::OkStatus();
}

absl::Status Link(const fs::path& target, const fs::path& link) {
  std::error_code ec;
  fs::create_directory_symlink(target, link, ec);
  return ec ? FromErrorCode(ec, link) : absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<FakeSysfs>> FakeSysfs::Create() {
  std::error_code ec;
  const fs::path temp = fs::temp_directory_path(ec);
  if (ec) return FromErrorCode(ec, "temp_directory_path");
  std::string pattern = (temp / "heteroaccel-sysfs-XXXXXX").string();
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", pattern, " failed"));
  }
  return std::unique_ptr<FakeSysfs>(new FakeSysfs(fs::path(buffer.data())));
}

FakeSysfs::~FakeSysfs() {
  std::error_code ec;
  fs::remove_all(root_, ec);
}

absl::Status FakeSysfs::AddPciDevice(const std::string& bus_id, uint32_t vendor, uint32_t device,
                                     uint32_t class_code, const std::string& driver) {
  const fs::path real = root_ / "devices" / "pci0000:00" / bus_id;
  const fs::path bus_dir = root_ / "bus" / "pci" / "devices";
  RETURN_IF_ERROR(MakeDirs(real));
  RETURN_IF_ERROR(MakeDirs(bus_dir));
  for (const auto& [name, value] :
       {std::pair<const char*, std::string>{"vendor", absl::StrFormat("0x%04x", vendor)},
        {"device", absl::StrFormat("0x%04x", device)},
        {"class", absl::StrFormat("0x%06x", class_code)}}) {
    RETURN_IF_ERROR(WriteFile(real / name, value));
  }
  if (!driver.empty()) {
    const fs::path driver_dir = root_ / "bus" / "pci" / "drivers" / driver;
    RETURN_IF_ERROR(MakeDirs(driver_dir));
    RETURN_IF_ERROR(Link(driver_dir, real / "driver"));
  }
  return Link(real, bus_dir / bus_id);
}

absl::Status FakeSysfs::AddUsbDevice(const std::string& path, uint32_t vendor, uint32_t product,
                                     const std::string& product_name, const std::string& serial) {
  const fs::path real = root_ / "devices" / "usb" / path;
  const fs::path interface = root_ / "devices" / "usb" / absl::StrCat(path, ":1.0");
  const fs::path bus_dir = root_ / "bus" / "usb" / "devices";
  for (const fs::path& dir : {real, interface, bus_dir}) {
    RETURN_IF_ERROR(MakeDirs(dir));
  }
  RETURN_IF_ERROR(WriteFile(real / "idVendor", absl::StrFormat("%04x", vendor)));
  RETURN_IF_ERROR(WriteFile(real / "idProduct", absl::StrFormat("%04x", product)));
  if (!product_name.empty()) RETURN_IF_ERROR(WriteFile(real / "product", product_name));
  if (!serial.empty()) RETURN_IF_ERROR(WriteFile(real / "serial", serial));
  RETURN_IF_ERROR(WriteFile(interface / "bInterfaceClass", "ff"));
  RETURN_IF_ERROR(Link(real, bus_dir / path));
  return Link(interface, bus_dir / absl::StrCat(path, ":1.0"));
}

}  // namespace heteroaccel::devices::testing

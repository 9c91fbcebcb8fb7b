// FakeSysfs: a sysfs-shaped tree in a fresh temporary directory, for tests of the bus
// probes. Devices are laid out like the kernel's: the real directory under devices/ and a
// symlink to it under bus/<bus>/devices/, with an optional driver symlink.
//
// Owns its directory and removes it on destruction. Not thread-safe; build the tree, then
// probe it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace heteroaccel::devices::testing {

class FakeSysfs {
 public:
  static absl::StatusOr<std::unique_ptr<FakeSysfs>> Create();
  ~FakeSysfs();
  FakeSysfs(const FakeSysfs&) = delete;
  FakeSysfs& operator=(const FakeSysfs&) = delete;

  // The directory to pass as sysfs root.
  std::string root() const { return root_.string(); }

  // A PCI function such as ("0000:03:00.0", 0x1172, 0x5052, 0x120000). `driver` adds a
  // bound-driver symlink when non-empty.
  absl::Status AddPciDevice(const std::string& bus_id, uint32_t vendor, uint32_t device,
                            uint32_t class_code, const std::string& driver = "");

  // A USB device at port path `path` ("1-2", "2-1.4"), with its first interface entry
  // ("<path>:1.0", which has no ids) as the kernel creates it.
  absl::Status AddUsbDevice(const std::string& path, uint32_t vendor, uint32_t product,
                            const std::string& product_name = "", const std::string& serial = "");

 private:
  explicit FakeSysfs(std::filesystem::path root) : root_(std::move(root)) {}

  std::filesystem::path root_;
};

}  // namespace heteroaccel::devices::testing

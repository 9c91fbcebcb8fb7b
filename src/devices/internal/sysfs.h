// Read-only helpers over a sysfs-shaped directory tree (the real /sys or a test's fake).
//
// Everything here tolerates the races of a live sysfs: a device that disappears between
// listing and reading simply reads as absent. Functions are stateless and thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace heteroaccel::devices::internal {

// The file's contents with surrounding whitespace removed; nullopt when unreadable.
std::optional<std::string> ReadTrimmed(const std::filesystem::path& file);

// The file's contents parsed as hex ("0x03e7" or "03e7"); nullopt when unreadable or bad.
std::optional<uint32_t> ReadHex(const std::filesystem::path& file);

// Sorted entry names of `dir`; empty when it does not exist.
std::vector<std::string> ListEntries(const std::filesystem::path& dir);

// The last path component of the symlink `link` points to ("" when no link), e.g. the
// bound kernel driver from <device>/driver.
std::string LinkTargetName(const std::filesystem::path& link);

struct PciFunction {
  std::string bus_id;  // canonical "dddd:bb:dd.f"
  uint32_t vendor = 0;
  uint32_t device = 0;
  uint32_t class_code = 0;  // 24 bits: base class, subclass, programming interface
  std::string driver;       // bound kernel driver, "" when none
};

struct UsbDevice {
  std::string path;  // sysfs name, the port path, e.g. "1-2" or "1-2.4"
  uint32_t vendor = 0;
  uint32_t product = 0;
  std::string product_name;  // the device's own product string, may be empty
  std::string serial;        // may be empty
};

// Functions under <root>/bus/pci/devices, sorted by bus id. NotFound when `root` itself is
// missing; an absent bus directory is an empty bus.
absl::StatusOr<std::vector<PciFunction>> ScanPci(const std::filesystem::path& root);

// Devices (not interfaces or hubs' ports) under <root>/bus/usb/devices, sorted by path.
absl::StatusOr<std::vector<UsbDevice>> ScanUsb(const std::filesystem::path& root);

// "03e7" style four-digit lower-case hex.
std::string Hex4(uint32_t value);

}  // namespace heteroaccel::devices::internal

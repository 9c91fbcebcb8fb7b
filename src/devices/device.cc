#include "devices/device.h"

#include <array>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "devices/internal/absl_view.h"

namespace heteroaccel::devices {
namespace {

using internal::AbslView;

bool ParseHexField(absl::string_view text, size_t max_digits, uint32_t* value) {
  if (text.empty() || text.size() > max_digits) return false;
  return absl::SimpleHexAtoi(text, value);
}

}  // namespace

std::string_view StateName(DeviceState state) {
  switch (state) {
    case DeviceState::kReady:
      return "ready";
    case DeviceState::kUnsupported:
      return "unsupported";
  }
  return "unsupported";
}

std::string Device::Attribute(std::string_view key) const {
  for (const auto& [k, v] : attributes) {
    if (k == key) return v;
  }
  return "";
}

bool Device::HasAttribute(std::string_view key) const {
  for (const auto& [k, v] : attributes) {
    if (k == key) return true;
  }
  return false;
}

void Device::SetAttribute(std::string_view key, std::string value) {
  for (auto& [k, v] : attributes) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  attributes.emplace_back(std::string(key), std::move(value));
}

absl::StatusOr<std::string> NormalizePciBusId(std::string_view bus_id) {
  const absl::string_view text = absl::StripAsciiWhitespace(AbslView(bus_id));
  const auto invalid = [&] {
    return absl::InvalidArgumentError(absl::StrCat("malformed PCI bus id \"", AbslView(bus_id),
                                                   "\"; expected [domain:]bus:device.function"));
  };
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  if (parts.size() == 2) parts.insert(parts.begin(), "0");
  if (parts.size() != 3) return invalid();
  const std::vector<absl::string_view> dev_fn = absl::StrSplit(parts[2], '.');
  if (dev_fn.size() != 2) return invalid();
  uint32_t domain = 0, bus = 0, device = 0, function = 0;
  if (!ParseHexField(parts[0], 8, &domain) || !ParseHexField(parts[1], 2, &bus) ||
      !ParseHexField(dev_fn[0], 2, &device) || !ParseHexField(dev_fn[1], 1, &function) ||
      domain > 0xffff || device > 0x1f || function > 7) {
    return invalid();
  }
  return absl::StrFormat("%04x:%02x:%02x.%x", domain, bus, device, function);
}

}  // namespace heteroaccel::devices

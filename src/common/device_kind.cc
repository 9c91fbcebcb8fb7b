#include "common/device_kind.h"

#include <array>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace heteroaccel {
namespace {

constexpr std::array<std::pair<DeviceKind, std::string_view>, 5> kKindNames = {{
    {DeviceKind::kCpu, "cpu"},
    {DeviceKind::kGpu, "gpu"},
    {DeviceKind::kNpu, "npu"},
    {DeviceKind::kFpga, "fpga"},
    {DeviceKind::kOther, "other"},
}};

}  // namespace

std::string_view KindName(DeviceKind kind) {
  for (const auto& [k, name] : kKindNames) {
    if (k == kind) return name;
  }
  return "other";
}

absl::StatusOr<DeviceKind> ParseKind(std::string_view name) {
  const std::string lower = absl::AsciiStrToLower(
      absl::StripAsciiWhitespace(absl::string_view(name.data(), name.size())));
  for (const auto& [kind, kind_name] : kKindNames) {
    if (lower == kind_name) return kind;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown device kind \"", absl::string_view(name.data(), name.size()),
                   "\"; accepted values: cpu, gpu, npu, fpga, other"));
}

}  // namespace heteroaccel

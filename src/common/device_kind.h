// DeviceKind: the one type for an accelerator's kind, shared by the agent's
// probes, the agent<->server contract, the scheduler's registry and the CLI.
// Pure functions, thread-safe.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"

namespace heteroaccel {

enum class DeviceKind { kCpu, kGpu, kNpu, kFpga, kOther };

// "cpu", "gpu", "npu", "fpga", "other".
std::string_view KindName(DeviceKind kind);

// Inverse of KindName (case-insensitive, surrounding blanks ignored).
// InvalidArgument naming the accepted values.
absl::StatusOr<DeviceKind> ParseKind(std::string_view name);

}  // namespace heteroaccel

#include "scheduler/types.h"

#include "absl/strings/str_cat.h"

namespace heteroaccel::scheduler {

absl::StatusOr<PolicyKind> ParsePolicy(std::string_view name) {
  if (name == "static") return PolicyKind::kStatic;
  if (name == "idle-first") return PolicyKind::kIdleFirst;
  if (name == "earliest-finish") return PolicyKind::kEarliestFinish;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown scheduling policy '", std::string(name),
                   "'; expected one of: static, idle-first, earliest-finish"));
}

std::string_view PolicyName(PolicyKind kind) {
  switch (kind) {
    case PolicyKind::kStatic:
      return "static";
    case PolicyKind::kIdleFirst:
      return "idle-first";
    case PolicyKind::kEarliestFinish:
      return "earliest-finish";
  }
  return "unknown";
}

std::string DeviceKey::ToString() const { return absl::StrCat(node, "/", device); }

}  // namespace heteroaccel::scheduler

// This Abseil's string_view is its own type, not std::string_view, so StrCat
// and friends need std::string_view arguments converted. Pure, thread-safe.
#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace heteroaccel::repository::internal {

inline absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace heteroaccel::repository::internal

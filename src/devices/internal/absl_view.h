// Debian's Abseil is built with its own absl::string_view (ABSL_OPTION_USE_STD_STRING_VIEW
// is 0), which does not convert from std::string_view. The public interface speaks
// std::string_view; this bridges it to Abseil's string functions without a copy.
#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace heteroaccel::devices::internal {

inline absl::string_view AbslView(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}

inline std::string_view StdView(absl::string_view text) {
  return std::string_view(text.data(), text.size());
}

}  // namespace heteroaccel::devices::internal

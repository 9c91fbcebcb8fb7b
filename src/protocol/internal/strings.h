// StrCat that also takes std::string_view.
//
// Debian's Abseil is built with its own absl::string_view class (not an alias
// of std::string_view), so absl::StrCat rejects std::string_view arguments.
// This forwards everything to absl::StrCat, converting those on the way.
// Pure, thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace heteroaccel::protocol::internal {

inline absl::string_view ToAbsl(std::string_view s) { return {s.data(), s.size()}; }
template <typename T>
const T& ToAbsl(const T& value) {
  return value;
}

inline std::string_view ToStd(absl::string_view s) { return {s.data(), s.size()}; }

template <typename... Args>
std::string StrCat(const Args&... args) {
  return absl::StrCat(ToAbsl(args)...);
}

}  // namespace heteroaccel::protocol::internal

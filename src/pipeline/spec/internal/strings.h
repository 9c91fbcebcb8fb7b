// String building for the spec's messages over std::string_view (this Abseil's
// StrCat takes absl::string_view, which is not std::string_view here).
#pragma once

#include <string>
#include <string_view>
#include <type_traits>

#include "absl/strings/str_cat.h"

namespace heteroaccel::pipeline::internal {

inline void Append(std::string& out, std::string_view s) { out.append(s); }
inline void Append(std::string& out, const char* s) { out.append(s); }
inline void Append(std::string& out, const std::string& s) { out.append(s); }
template <typename T>
requires std::is_arithmetic_v<T>
void Append(std::string& out, T v) { absl::StrAppend(&out, v); }

template <typename... Args>
std::string Cat(const Args&... args) {
  std::string out;
  (Append(out, args), ...);
  return out;
}

template <typename Range>
std::string Join(const Range& items, std::string_view sep) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out.append(sep);
    out.append(std::string_view(item));
  }
  return out;
}

inline std::string Quoted(std::string_view s) { return Cat("\"", s, "\""); }

}  // namespace heteroaccel::pipeline::internal

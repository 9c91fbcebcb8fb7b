// Small string helpers over std::string_view. Debian's Abseil has its own
// string_view type, so absl::StrCat and friends do not take std::string_view;
// these fill the gap inside ha_http. Stateless and thread-safe.
#pragma once

#include <charconv>
#include <string>
#include <string_view>
#include <type_traits>

namespace heteroaccel::http::internal {

inline char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

inline std::string ToLower(std::string_view in) {
  std::string out(in);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

inline void AppendPiece(std::string& out, std::string_view piece) { out.append(piece); }
inline void AppendPiece(std::string& out, char c) { out.push_back(c); }
template <typename Int, typename = std::enable_if_t<std::is_integral_v<Int>>>
void AppendPiece(std::string& out, Int value) {
  char digits[24];
  const auto result = std::to_chars(digits, digits + sizeof(digits), value);
  out.append(digits, result.ptr);
}

// Appends string-like and integer pieces to `out`.
template <typename... Pieces>
void Append(std::string& out, const Pieces&... pieces) {
  (AppendPiece(out, pieces), ...);
}

template <typename... Pieces>
std::string Cat(const Pieces&... pieces) {
  std::string out;
  Append(out, pieces...);
  return out;
}

}  // namespace heteroaccel::http::internal

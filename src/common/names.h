// Names a request or a config gives its cameras and groups: 1 to `max`
// characters of [A-Za-z0-9_.-], so they are safe in metric labels, URLs and
// file names. The server checks the hints it is sent with this rule
// (server/hints.cc) and `heteroaccel bench` the names it will send.
#pragma once

#include <cstddef>
#include <string_view>

namespace heteroaccel {

// The longest camera or group name a request may carry.
inline constexpr size_t kMaxNameLength = 64;

// True when `name` is 1 to `max` characters of A-Z, a-z, 0-9, '_', '.', '-'.
constexpr bool IsValidName(std::string_view name, size_t max) {
  if (name.empty() || name.size() > max) return false;
  for (const char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace heteroaccel

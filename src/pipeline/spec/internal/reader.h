// Reads one JSON object of the cameras document with every error prefixed by
// where it is (`camera "gate-1": block "trk": `) and naming the key. Used by
// spec.cc only. Never throws (nlohmann's accessors are called only after the
// value's type is checked).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace heteroaccel::pipeline::internal {

// [A-Za-z0-9_.-]{1,64}
bool IsValidId(std::string_view s);

class ObjectReader {
 public:
  // `prefix` ends with ": " (or is empty).
  ObjectReader(const nlohmann::json& object, std::string prefix)
      : object_(object), prefix_(std::move(prefix)) {}

  const std::string& prefix() const { return prefix_; }

  // prefix + message
  absl::Status Error(std::string_view message) const;
  // prefix + key "k": message
  absl::Status KeyError(std::string_view key, std::string_view message) const;
  // The first key not in `allowed`, as prefix + unknown key "k".
  absl::Status CheckKeys(const std::vector<std::string_view>& allowed) const;

  // Null when absent (a JSON null counts as absent).
  const nlohmann::json* Get(std::string_view key) const;

  // Each leaves `out` unchanged when the key is absent and not required.
  absl::Status String(std::string_view key, std::string& out, bool required,
                      size_t max_len = 256) const;
  absl::Status Id(std::string_view key, std::string& out, bool required) const;
  absl::Status Bool(std::string_view key, bool& out) const;
  absl::Status Int(std::string_view key, int& out, bool required, int64_t min, int64_t max) const;
  // [min, max], or (min, max] when min_exclusive.
  absl::Status Number(std::string_view key, double& out, bool required, double min, double max,
                      bool min_exclusive = false) const;
  absl::Status Float(std::string_view key, float& out, bool required, double min, double max,
                     bool min_exclusive = false) const;
  absl::Status OptionalNumber(std::string_view key, std::optional<double>& out, double min,
                              double max, bool min_exclusive = false) const;
  // A list of non-empty strings, each at most 64 bytes, no repeats.
  absl::Status StringList(std::string_view key, std::vector<std::string>& out,
                          size_t max_items) const;

 private:
  const nlohmann::json& object_;
  std::string prefix_;
};

// "[x, y]" with finite numbers within kMaxCoordinate, or the message why not.
std::optional<std::string> ReadPoint(const nlohmann::json& value, float& x, float& y);

}  // namespace heteroaccel::pipeline::internal

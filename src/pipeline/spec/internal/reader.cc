#include "pipeline/spec/internal/reader.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "pipeline/spec/internal/strings.h"
#include "pipeline/spec/spec.h"

namespace heteroaccel::pipeline::internal {
namespace {

// Shortest text that reads back as the same double ("1", "0.3", "1e+06").
std::string FormatNumber(double v) {
  const nlohmann::json j = v;
  std::string s = j.dump();
  if (s.size() > 2 && s.ends_with(".0")) s.resize(s.size() - 2);
  return s;
}

}  // namespace

bool IsValidId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

absl::Status ObjectReader::Error(std::string_view message) const {
  return absl::InvalidArgumentError(Cat(prefix_, message));
}

absl::Status ObjectReader::KeyError(std::string_view key, std::string_view message) const {
  return absl::InvalidArgumentError(Cat(prefix_, "key \"", key, "\": ", message));
}

absl::Status ObjectReader::CheckKeys(const std::vector<std::string_view>& allowed) const {
  for (const auto& [key, value] : object_.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string shown = key.size() > 64 ? key.substr(0, 64) + "..." : key;
      return Error(Cat("unknown key \"", shown, "\""));
    }
  }
  return absl::OkStatus();
}

const nlohmann::json* ObjectReader::Get(std::string_view key) const {
  const auto it = object_.find(key);
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::Status ObjectReader::String(std::string_view key, std::string& out, bool required,
                                  size_t max_len) const {
  const nlohmann::json* v = Get(key);
  if (v == nullptr) return required ? KeyError(key, "is required") : absl::OkStatus();
  if (!v->is_string()) return KeyError(key, "must be a string");
  const auto& s = v->get_ref<const std::string&>();
  if (s.size() > max_len) return KeyError(key, Cat("longer than ", max_len, " bytes"));
  out = s;
  return absl::OkStatus();
}

absl::Status ObjectReader::Id(std::string_view key, std::string& out, bool required) const {
  std::string s;
  const nlohmann::json* v = Get(key);
  if (v == nullptr) return required ? KeyError(key, "is required") : absl::OkStatus();
  if (!v->is_string()) return KeyError(key, "must be a string");
  s = v->get<std::string>();
  if (!IsValidId(s)) {
    return KeyError(key, "must be 1 to 64 characters of A-Z a-z 0-9 _ . -");
  }
  out = std::move(s);
  return absl::OkStatus();
}

absl::Status ObjectReader::Bool(std::string_view key, bool& out) const {
  const nlohmann::json* v = Get(key);
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_boolean()) return KeyError(key, "must be true or false");
  out = v->get<bool>();
  return absl::OkStatus();
}

absl::Status ObjectReader::Int(std::string_view key, int& out, bool required, int64_t min,
                               int64_t max) const {
  const nlohmann::json* v = Get(key);
  if (v == nullptr) return required ? KeyError(key, "is required") : absl::OkStatus();
  int64_t value = 0;
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    value = u > static_cast<uint64_t>(max) ? max + 1 : static_cast<int64_t>(u);
  } else if (v->is_number_integer()) {
    value = v->get<int64_t>();
  } else if (v->is_number_float()) {
    const double d = v->get<double>();
    if (!std::isfinite(d) || d != std::floor(d)) return KeyError(key, "must be a whole number");
    value = d < static_cast<double>(min)   ? min - 1
            : d > static_cast<double>(max) ? max + 1
                                           : static_cast<int64_t>(d);
  } else {
    return KeyError(key, "must be a whole number");
  }
  if (value < min) return KeyError(key, Cat("must be >= ", min));
  if (value > max) return KeyError(key, Cat("must be <= ", max));
  out = static_cast<int>(value);
  return absl::OkStatus();
}

absl::Status ObjectReader::Number(std::string_view key, double& out, bool required, double min,
                                  double max, bool min_exclusive) const {
  const nlohmann::json* v = Get(key);
  if (v == nullptr) return required ? KeyError(key, "is required") : absl::OkStatus();
  if (!v->is_number()) return KeyError(key, "must be a number");
  const double d = v->get<double>();
  if (!std::isfinite(d)) return KeyError(key, "must be a finite number");
  if (min_exclusive ? d <= min : d < min) {
    return KeyError(key, Cat("must be ", min_exclusive ? "> " : ">= ", FormatNumber(min)));
  }
  if (d > max) return KeyError(key, Cat("must be <= ", FormatNumber(max)));
  out = d;
  return absl::OkStatus();
}

absl::Status ObjectReader::Float(std::string_view key, float& out, bool required, double min,
                                 double max, bool min_exclusive) const {
  double d = out;
  if (absl::Status s = Number(key, d, required, min, max, min_exclusive); !s.ok()) return s;
  out = static_cast<float>(d);
  return absl::OkStatus();
}

absl::Status ObjectReader::OptionalNumber(std::string_view key, std::optional<double>& out,
                                          double min, double max, bool min_exclusive) const {
  if (Get(key) == nullptr) return absl::OkStatus();
  double d = 0;
  if (absl::Status s = Number(key, d, true, min, max, min_exclusive); !s.ok()) return s;
  out = d;
  return absl::OkStatus();
}

absl::Status ObjectReader::StringList(std::string_view key, std::vector<std::string>& out,
                                      size_t max_items) const {
  const nlohmann::json* v = Get(key);
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_array()) return KeyError(key, "must be a list of strings");
  if (v->size() > max_items) return KeyError(key, Cat("at most ", max_items, " entries"));
  std::vector<std::string> items;
  for (const nlohmann::json& item : *v) {
    if (!item.is_string()) {
      return KeyError(key, "must be a list of strings (quote numbers in YAML)");
    }
    const auto& s = item.get_ref<const std::string&>();
    if (s.empty() || s.size() > 64) return KeyError(key, "entries must be 1 to 64 bytes");
    if (std::find(items.begin(), items.end(), s) != items.end()) {
      return KeyError(key, Cat("\"", s, "\" is listed twice"));
    }
    items.push_back(s);
  }
  out = std::move(items);
  return absl::OkStatus();
}

std::optional<std::string> ReadPoint(const nlohmann::json& value, float& x, float& y) {
  if (!value.is_array() || value.size() != 2 || !value[0].is_number() || !value[1].is_number()) {
    return "must be [x, y]";
  }
  const double dx = value[0].get<double>();
  const double dy = value[1].get<double>();
  if (!std::isfinite(dx) || !std::isfinite(dy)) return "must be finite numbers";
  if (std::abs(dx) > kMaxCoordinate || std::abs(dy) > kMaxCoordinate) {
    return Cat("coordinates must be within +-", kMaxCoordinate);
  }
  x = static_cast<float>(dx);
  y = static_cast<float>(dy);
  return std::nullopt;
}

}  // namespace heteroaccel::pipeline::internal

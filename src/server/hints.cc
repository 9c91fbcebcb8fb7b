#include "server/hints.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/device_kind.h"
#include "common/names.h"
#include "httpapi/responses.h"

namespace heteroaccel::server {
namespace {

absl::Status Bad(const char* key, const char* must) {
  return absl::InvalidArgumentError(absl::StrCat("parameter '", key, "' must be ", must));
}

std::optional<int> PriorityClass(std::string_view name) {
  if (name == "critical") return scheduler::kPriorityCritical;
  if (name == "high") return scheduler::kPriorityHigh;
  if (name == "normal") return scheduler::kPriorityNormal;
  if (name == "low") return scheduler::kPriorityLow;
  if (name == "batch") return scheduler::kPriorityBatch;
  return std::nullopt;
}

}  // namespace

absl::StatusOr<Hints> ParseHints(const nlohmann::json& p) {
  Hints hints;
  if (p.is_null()) return hints;
  if (!p.is_object()) return absl::InvalidArgumentError("parameters must be a JSON object");
  if (auto it = p.find("priority"); it != p.end()) {
    constexpr const char* kPriorityMust =
        "an integer between -1000000 and 1000000 or one of critical, high, normal, low, batch";
    if (it->is_string()) {
      const std::optional<int> named = PriorityClass(it->get_ref<const std::string&>());
      if (!named) return Bad("priority", kPriorityMust);
      hints.priority = *named;
    } else if (!it->is_number_integer() || it->get<int64_t>() < -1000000 ||
               it->get<int64_t>() > 1000000) {
      return Bad("priority", kPriorityMust);
    } else {
      hints.priority = it->get<int>();
    }
  }
  if (auto it = p.find("camera"); it != p.end()) {
    if (!it->is_string() || !IsValidName(it->get_ref<const std::string&>(), kMaxNameLength)) {
      return Bad("camera", "1 to 64 characters of A-Z, a-z, 0-9, '_', '.' or '-'");
    }
    hints.camera = it->get<std::string>();
  }
  if (auto it = p.find("timeout_ms"); it != p.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() <= 0 ||
        it->get<int64_t>() > 24 * 3600 * 1000) {
      return Bad("timeout_ms", "a positive integer of milliseconds (at most a day)");
    }
    hints.timeout = std::chrono::milliseconds(it->get<int64_t>());
  }
  if (auto it = p.find("device"); it != p.end()) {
    const size_t slash = it->is_string() ? it->get_ref<const std::string&>().find('/') : 0;
    if (!it->is_string() || slash == 0 || slash == std::string::npos ||
        slash + 1 == it->get_ref<const std::string&>().size()) {
      return Bad("device", "\"node/device\", as GET /v1/cluster lists them");
    }
    const std::string& s = it->get_ref<const std::string&>();
    hints.device = scheduler::DeviceKey{s.substr(0, slash), s.substr(slash + 1)};
  }
  if (auto it = p.find("device_kind"); it != p.end()) {
    if (!it->is_string()) return Bad("device_kind", "a string: cpu, gpu, npu, fpga or other");
    auto kind = ParseKind(it->get<std::string>());
    if (!kind.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("parameter 'device_kind': ", std::string(kind.status().message())));
    }
    hints.device_kind = std::string(KindName(*kind));
  }
  if (auto it = p.find("group"); it != p.end()) {
    if (!it->is_string() || !IsValidName(it->get_ref<const std::string&>(), kMaxNameLength)) {
      return Bad("group",
                 "a node group's name: 1 to 64 characters of A-Z, a-z, 0-9, '_', '.' or '-'");
    }
    hints.group = it->get<std::string>();
  }
  if (auto it = p.find("degrade"); it != p.end()) {
    if (!it->is_boolean()) return Bad("degrade", "true or false");
    hints.degrade = it->get<bool>();
  }
  return hints;
}

absl::StatusOr<Hints> ParseQueryHints(std::string_view query) {
  nlohmann::json p = nlohmann::json::object();
  for (const char* key : {"device", "device_kind"}) {
    if (std::string v = httpapi::QueryValue(query, key); !v.empty()) p[key] = v;
  }
  // Present but empty is still a camera or group the parser refuses, by name.
  for (const std::string key : {"camera", "group"}) {
    if (query.substr(0, key.size() + 1) == key + "=" ||
        query.find("&" + key + "=") != std::string_view::npos) {
      p[key] = httpapi::QueryValue(query, key);
    }
  }
  if (std::string v = httpapi::QueryValue(query, "degrade"); !v.empty()) {
    // Anything but the two words reaches the parser as a string, refused by name.
    p["degrade"] = v == "true"    ? nlohmann::json(true)
                   : v == "false" ? nlohmann::json(false)
                                  : nlohmann::json(v);
  }
  for (const char* key : {"priority", "timeout_ms"}) {
    std::string v = httpapi::QueryValue(query, key);
    if (v.empty()) continue;
    if (std::string_view(key) == "priority" && PriorityClass(v)) {
      p[key] = v;
      continue;
    }
    int64_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || end != v.data() + v.size()) {
      return absl::InvalidArgumentError(absl::StrCat("query '", key, "' must be an integer"));
    }
    p[key] = n;
  }
  return ParseHints(p);
}

}  // namespace heteroaccel::server

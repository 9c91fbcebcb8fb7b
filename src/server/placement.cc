#include "server/placement.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "scheduler/types.h"

namespace heteroaccel::server {
namespace {

using Json = nlohmann::json;

absl::Status Bad(const std::string& where, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
}

bool Contains(const std::vector<std::string>& values, const std::string& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

constexpr const char* kKinds[] = {"cpu", "gpu", "npu", "fpga", "other"};
bool ValidKind(const std::string& kind) {
  return std::find(std::begin(kKinds), std::end(kKinds), kind) != std::end(kKinds);
}

}  // namespace

Json ToJson(const PlacementState& state) {
  return {{"policy", state.policy}, {"registry", RegistryToJson(state.registry)}};
}

absl::StatusOr<PlacementState> ParsePlacementState(const Json& json) {
  if (!json.is_object() || !json.contains("policy") || !json["policy"].is_string() ||
      !json.contains("registry")) {
    return absl::InvalidArgumentError("a placement state needs \"policy\" and \"registry\"");
  }
  PlacementState state;
  state.policy = json["policy"].get<std::string>();
  if (!scheduler::ParsePolicy(state.policy).ok()) {
    return absl::InvalidArgumentError(absl::StrCat("unknown policy '", state.policy, "'"));
  }
  auto registry = RegistryFromJson(json["registry"]);
  if (!registry.ok()) return registry.status();
  state.registry = *std::move(registry);
  return state;
}

absl::StatusOr<PlacementChange> ParsePlacementChange(std::string_view body) {
  const Json json = Json::parse(body, nullptr, false);
  if (!json.is_object()) {
    return absl::InvalidArgumentError(
        "the body must be a JSON object such as {\"types\": {\"face\": {\"pin\": \"gpu\"}}}");
  }
  PlacementChange change;
  for (const auto& [key, value] : json.items()) {
    if (key == "version") {
      if (!value.is_number_integer()) return Bad("version", "must be an integer");
      change.version = value.get<int64_t>();
    } else if (key == "comment") {
      if (!value.is_string()) return Bad("comment", "must be a string");
      change.comment = value.get<std::string>().substr(0, 500);
    } else if (key == "policy") {
      if (!value.is_string()) return Bad("policy", "must be a string");
      change.policy = value.get<std::string>();
    } else if (key == "types") {
      if (!value.is_object()) return Bad("types", "must be an object of type -> change");
      for (const auto& [type, t] : value.items()) {
        const std::string where = absl::StrCat("types.", type);
        if (!t.is_object()) {
          return Bad(where, "must be an object with \"pin\", \"kinds\" and/or \"degrade\"");
        }
        PlacementChange::TypeChange& tc = change.types[type];
        for (const auto& [field, v] : t.items()) {
          if (field == "pin") {
            if (v.is_null()) {
              tc.pin = "";
            } else if (v.is_string()) {
              tc.pin = v.get<std::string>();
            } else {
              return Bad(where + ".pin", "must be a kind or null");
            }
          } else if (field == "kinds") {
            if (!v.is_object()) return Bad(where + ".kinds", "must be an object of kind -> change");
            for (const auto& [kind, k] : v.items()) {
              const std::string kwhere = absl::StrCat(where, ".kinds.", kind);
              if (!k.is_object()) return Bad(kwhere, "must be an object");
              PlacementChange::KindChange& kc = tc.kinds[kind];
              for (const auto& [kfield, kv] : k.items()) {
                if (kfield == "enabled") {
                  if (!kv.is_boolean()) return Bad(kwhere + ".enabled", "must be true or false");
                  kc.enabled = kv.get<bool>();
                } else if (kfield == "variant") {
                  if (!kv.is_string()) return Bad(kwhere + ".variant", "must be a string");
                  kc.variant = kv.get<std::string>();
                } else {
                  return Bad(kwhere, absl::StrCat("unknown field '", kfield,
                                                  "' (use \"enabled\", \"variant\")"));
                }
              }
            }
          } else if (field == "degrade") {
            if (v.is_null()) {
              tc.degrade.emplace(std::nullopt);
            } else {
              auto degrade = DegradeFromJson(v, where + ".");
              if (!degrade.ok()) return degrade.status();
              tc.degrade.emplace(*std::move(degrade));
            }
          } else {
            return Bad(where, absl::StrCat("unknown field '", field,
                                           "' (use \"pin\", \"kinds\", \"degrade\")"));
          }
        }
      }
    } else {
      return Bad("the change",
                 absl::StrCat("unknown field '", key, "' (use version, comment, policy, types)"));
    }
  }
  return change;
}

std::optional<std::string> EffectiveVariant(const Registry& registry, const std::string& type,
                                            const std::string& kind,
                                            const std::vector<std::string>& loaded) {
  if (loaded.empty()) return std::nullopt;
  auto it = registry.find(type);
  if (it == registry.end()) return loaded.front();
  const InferenceType& t = it->second;
  if (!t.pin.empty() && t.pin != kind) return std::nullopt;
  if (t.disabled.count(kind) > 0) return std::nullopt;
  if (t.variants.empty()) return loaded.front();
  auto wanted = t.variants.find(kind);
  if (wanted == t.variants.end() || !Contains(loaded, wanted->second)) return std::nullopt;
  return wanted->second;
}

absl::StatusOr<PlacementState> ApplyPlacementChange(const PlacementState& state,
                                                    const PlacementChange& change,
                                                    const Inventory& inventory) {
  PlacementState next = state;
  if (change.policy) {
    if (!scheduler::ParsePolicy(*change.policy).ok()) {
      return Bad("policy", absl::StrCat("unknown policy '", *change.policy,
                                        "' (use static, idle-first, earliest-finish)"));
    }
    next.policy = *change.policy;
  }
  for (const auto& [type, tc] : change.types) {
    const std::string where = absl::StrCat("types.", type);
    auto loaded = inventory.find(type);
    if (loaded == inventory.end()) {
      std::vector<std::string> known;
      for (const auto& [name, kinds] : inventory) known.push_back(name);
      return Bad(where, absl::StrCat(
                            "no device has loaded '", type, "' (types loaded: ",
                            known.empty() ? std::string("none") : absl::StrJoin(known, ", "), ")"));
    }
    const auto& kinds = loaded->second;
    InferenceType& t = next.registry[type];
    // Once one kind's variant is set, the type lists its kinds: start the list
    // from what runs now, so the kinds not named keep running as they do.
    const bool sets_variant = std::any_of(tc.kinds.begin(), tc.kinds.end(),
                                          [](const auto& k) { return k.second.variant; });
    if (sets_variant && t.variants.empty()) {
      for (const auto& [kind, inv] : kinds) t.variants[kind] = inv.variants.front();
    }
    for (const auto& [kind, kc] : tc.kinds) {
      const std::string kwhere = absl::StrCat(where, ".kinds.", kind);
      if (!ValidKind(kind)) return Bad(kwhere, "unknown kind (use cpu, gpu, npu, fpga, other)");
      auto inv = kinds.find(kind);
      if (inv == kinds.end()) {
        return Bad(kwhere, absl::StrCat("no ", kind, " device has loaded '", type, "'"));
      }
      if (kc.variant) {
        if (!Contains(inv->second.variants, *kc.variant)) {
          return Bad(
              kwhere + ".variant",
              absl::StrCat("'", *kc.variant, "' is not loaded on any ", kind,
                           " device (loaded: ", absl::StrJoin(inv->second.variants, ", "), ")"));
        }
        t.variants[kind] = *kc.variant;
      }
      if (kc.enabled) {
        if (*kc.enabled) {
          t.disabled.erase(kind);
          if (!t.variants.empty() && t.variants.count(kind) == 0) {
            t.variants[kind] = inv->second.variants.front();
          }
        } else {
          t.disabled.insert(kind);
        }
      }
    }
    if (tc.pin) {
      if (!tc.pin->empty()) {
        if (!ValidKind(*tc.pin)) {
          return Bad(where + ".pin", "unknown kind (use cpu, gpu, npu, fpga, other, or null)");
        }
        if (kinds.count(*tc.pin) == 0) {
          return Bad(where + ".pin",
                     absl::StrCat("no ", *tc.pin, " device has loaded '", type, "'"));
        }
      }
      t.pin = *tc.pin;
    }
    if (tc.degrade) {
      if (*tc.degrade) {
        for (const auto& listed : (*tc.degrade)->variants) {
          const std::string& variant = listed.first;
          const bool loaded_somewhere = std::any_of(kinds.begin(), kinds.end(), [&](const auto& k) {
            return Contains(k.second.variants, variant);
          });
          if (!loaded_somewhere) {
            return Bad(absl::StrCat(where, ".degrade.variants.", variant),
                       absl::StrCat("no device has loaded this variant of '", type, "'"));
          }
        }
      }
      t.degrade = *tc.degrade;
    }
    bool runs = false;
    for (const auto& [kind, inv] : kinds) {
      runs = runs || EffectiveVariant(next.registry, type, kind, inv.variants).has_value();
    }
    if (!runs) {
      return Bad(where, absl::StrCat("the change leaves '", type,
                                     "' with no kind to run on (enable one, or lift the pin)"));
    }
  }
  return next;
}

Json PlacementJson(int64_t version, const PlacementState& state, const Inventory& inventory) {
  std::vector<std::string> kinds_present;
  Json types = Json::object();
  for (const auto& [type, kinds] : inventory) {
    auto reg = state.registry.find(type);
    const std::string pin = reg == state.registry.end() ? "" : reg->second.pin;
    Json cells = Json::object();
    for (const auto& [kind, inv] : kinds) {
      if (!Contains(kinds_present, kind)) kinds_present.push_back(kind);
      const bool disabled =
          reg != state.registry.end() &&
          (reg->second.disabled.count(kind) > 0 ||
           (!reg->second.variants.empty() && reg->second.variants.count(kind) == 0));
      std::string variant = inv.variants.front();
      if (reg != state.registry.end()) {
        if (auto v = reg->second.variants.find(kind); v != reg->second.variants.end()) {
          variant = v->second;
        }
      }
      const auto effective = EffectiveVariant(state.registry, type, kind, inv.variants);
      cells[kind] = {{"variant", variant},
                     {"enabled", !disabled},
                     {"runs", effective.has_value()},
                     {"devices", inv.devices},
                     {"variants", inv.variants}};
    }
    types[type] = {{"pin", pin.empty() ? Json() : Json(pin)}, {"kinds", std::move(cells)}};
    const bool degrades = reg != state.registry.end() && reg->second.degrade.has_value();
    types[type]["degrade"] = degrades ? DegradeToJson(*reg->second.degrade) : Json();
  }
  std::sort(kinds_present.begin(), kinds_present.end(), [](const auto& a, const auto& b) {
    auto rank = [](const std::string& k) {
      return std::find(std::begin(kKinds), std::end(kKinds), k) - std::begin(kKinds);
    };
    return rank(a) < rank(b);
  });
  return {{"version", version},
          {"policy", state.policy},
          {"policies", {"static", "idle-first", "earliest-finish"}},
          {"kinds", kinds_present},
          {"types", std::move(types)}};
}

}  // namespace heteroaccel::server

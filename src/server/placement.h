// Placement: the execution interface's model — which variant of each
// inference type runs on each accelerator kind, which kinds are forbidden, a
// pin of a type to one kind, and the scheduling policy. It is kept as the
// registry (config.h: kind -> variant, disabled kinds, pin) plus the policy;
// this file turns that into the operator's matrix (type × kind, against what
// the cluster has loaded) and applies the operator's changes to it, checking
// each against that inventory.
//
// Pure functions over values; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "server/config.h"

namespace heteroaccel::server {

using Registry = std::map<std::string, InferenceType>;

// What the cluster has loaded: type -> kind -> the variants loaded on devices
// of that kind (agents' catalog order: the first is the default) and how many
// devices.
struct KindInventory {
  std::vector<std::string> variants;
  int devices = 0;
};
using Inventory = std::map<std::string, std::map<std::string, KindInventory>>;

// The registry and policy together: what the audit log records and a revert
// restores.
struct PlacementState {
  std::string policy;
  Registry registry;
};
nlohmann::json ToJson(const PlacementState& state);
absl::StatusOr<PlacementState> ParsePlacementState(const nlohmann::json& json);

// A change from PUT /v1/placement (docs/dashboard-api.md); every field optional.
struct PlacementChange {
  std::optional<int64_t> version;
  std::string comment;
  std::optional<std::string> policy;
  struct KindChange {
    std::optional<bool> enabled;
    std::optional<std::string> variant;
  };
  struct TypeChange {
    std::optional<std::string> pin;  // "" lifts the pin
    std::map<std::string, KindChange> kinds;
    // Variant degradation (config.h DegradePolicy): set, or lifted with null.
    std::optional<std::optional<DegradePolicy>> degrade;
  };
  std::map<std::string, TypeChange> types;
};
// InvalidArgument naming the field for anything malformed.
absl::StatusOr<PlacementChange> ParsePlacementChange(std::string_view body);

// The new state, or InvalidArgument for an unknown policy, type, kind or
// variant, a pin to a kind with no device for the type, a degradation naming a
// variant no device has loaded for the type, or a change that leaves a type
// the cluster has loaded with no kind to run on.
absl::StatusOr<PlacementState> ApplyPlacementChange(const PlacementState& state,
                                                    const PlacementChange& change,
                                                    const Inventory& inventory);

// Whether `kind` runs `type` under `registry`, and with which variant, given
// the variants loaded there (first = default). nullopt: it does not.
std::optional<std::string> EffectiveVariant(const Registry& registry, const std::string& type,
                                            const std::string& kind,
                                            const std::vector<std::string>& loaded);

// GET /v1/placement: the matrix.
nlohmann::json PlacementJson(int64_t version, const PlacementState& state,
                             const Inventory& inventory);

}  // namespace heteroaccel::server

#include "pipeline/rules/rules.h"

#include "absl/strings/str_cat.h"
#include "pipeline/rules/internal/factories.h"

namespace heteroaccel::pipeline {
namespace {

absl::Status Missing(const CameraSpec& camera, const BlockSpec& block, std::string_view what,
                     const std::string& name) {
  return absl::InvalidArgumentError(absl::StrCat(
      "camera \"", camera.id, "\": block \"", block.id, "\": no ",
      absl::string_view(what.data(), what.size()), " named \"", name, "\" on this camera"));
}

template <typename Params>
absl::StatusOr<const Zone*> ZoneOf(const CameraSpec& camera, const BlockSpec& block) {
  const std::string& name = std::get<Params>(block.params).zone;
  const Zone* zone = camera.FindZone(name);
  if (zone == nullptr) return Missing(camera, block, "zone", name);
  return zone;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Rule>> MakeRule(const CameraSpec& camera, const BlockSpec& block) {
  if (!IsRule(block.type) || block.params.index() != static_cast<size_t>(block.type)) {
    return absl::InvalidArgumentError(
        absl::StrCat("camera \"", camera.id, "\": block \"", block.id, "\": is not a rule"));
  }
  switch (block.type) {
    case BlockType::kZoneIntrusion: {
      auto zone = ZoneOf<ZoneIntrusionParams>(camera, block);
      if (!zone.ok()) return zone.status();
      return internal::MakeZoneIntrusion(camera, block, **zone);
    }
    case BlockType::kLoitering: {
      auto zone = ZoneOf<LoiteringParams>(camera, block);
      if (!zone.ok()) return zone.status();
      return internal::MakeLoitering(camera, block, **zone);
    }
    case BlockType::kCrowding: {
      auto zone = ZoneOf<CrowdingParams>(camera, block);
      if (!zone.ok()) return zone.status();
      return internal::MakeCrowding(camera, block, **zone);
    }
    case BlockType::kParking: {
      auto zone = ZoneOf<ParkingParams>(camera, block);
      if (!zone.ok()) return zone.status();
      return internal::MakeParking(camera, block, **zone);
    }
    case BlockType::kLineCrossing: {
      const std::string& name = std::get<LineCrossingParams>(block.params).line;
      const Line* line = camera.FindLine(name);
      if (line == nullptr) return Missing(camera, block, "line", name);
      return internal::MakeLineCrossing(camera, block, *line);
    }
    case BlockType::kAbandonedObject:
      return internal::MakeAbandonedObject(camera, block);
    case BlockType::kFall:
      return internal::MakeFall(camera, block);
    case BlockType::kLicencePlate:
      return internal::MakeLicencePlate(camera, block);
    default:
      break;
  }
  return absl::InvalidArgumentError("not a rule");
}

}  // namespace heteroaccel::pipeline

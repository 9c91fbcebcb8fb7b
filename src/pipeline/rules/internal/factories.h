// One constructor per rule type; MakeRule (rules.cc) picks one. Specs have been
// validated: the zone or line a rule names exists on the camera.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "pipeline/rules/rules.h"

namespace heteroaccel::pipeline::internal {

std::unique_ptr<Rule> MakeZoneIntrusion(const CameraSpec& camera, const BlockSpec& block,
                                        const Zone& zone);
std::unique_ptr<Rule> MakeLoitering(const CameraSpec& camera, const BlockSpec& block,
                                    const Zone& zone);
std::unique_ptr<Rule> MakeCrowding(const CameraSpec& camera, const BlockSpec& block,
                                   const Zone& zone);
std::unique_ptr<Rule> MakeParking(const CameraSpec& camera, const BlockSpec& block,
                                  const Zone& zone);
std::unique_ptr<Rule> MakeLineCrossing(const CameraSpec& camera, const BlockSpec& block,
                                       const Line& line);
std::unique_ptr<Rule> MakeAbandonedObject(const CameraSpec& camera, const BlockSpec& block);
std::unique_ptr<Rule> MakeFall(const CameraSpec& camera, const BlockSpec& block);
absl::StatusOr<std::unique_ptr<Rule>> MakeLicencePlate(const CameraSpec& camera,
                                                       const BlockSpec& block);

float Distance(Point a, Point b);

// The fall rule's reading of one pose: true fallen, false upright, nullopt when
// the keypoints cannot tell (thresholds in rules.h).
std::optional<bool> ReadsFallen(const std::vector<Keypoint>& keypoints, const Rect& box);

}  // namespace heteroaccel::pipeline::internal

// Pieces of the camera parser shared by spec.cc, graph.cc and yaml.cc.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pipeline/spec/spec.h"

namespace heteroaccel::pipeline::internal {

// One camera; `label` names it in errors until its id is known ("camera",
// "cameras[3]").
absl::StatusOr<CameraSpec> ParseCamera(const nlohmann::json& camera, const std::string& label);

// Every input names "source" or a block, and each edge joins kinds that fit
// (a track takes a detect or filter, fall a crop_infer of type pose, ...).
// `camera` is the errors' prefix (camera "gate-1").
absl::Status CheckEdges(const CameraSpec& spec, const std::string& camera);

}  // namespace heteroaccel::pipeline::internal

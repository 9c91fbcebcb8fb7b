// The wire form of detections, shared by the agent (which encodes them), the
// server and the command-line client (which decode them).
//
// Open Inference Protocol outputs, one row per detection:
//   boxes      FP32  [N,4]   x1,y1,x2,y2 in input-image pixels
//   scores     FP32  [N]
//   class_ids  INT32 [N]
//   labels     BYTES [N]
//   keypoints  FP32  [N,K,2] x,y in input-image pixels; K and the names come from
//                            the model metadata ("keypoint_names")
// and a JSON document for /v1/infer (see DetectionsToJson). Pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "inference/model.h"
#include "protocol/metadata.h"
#include "protocol/tensor.h"

namespace heteroaccel::api {

const std::vector<std::string>& DetectionOutputNames();
// The outputs as model metadata declares them, for a type with `keypoints`
// keypoints per detection (same order as DetectionOutputNames).
std::vector<protocol::TensorSpec> DetectionOutputSpecs(int64_t keypoints);

std::vector<protocol::Tensor> DetectionsToTensors(const inference::InferenceOutput& output,
                                                  size_t keypoints_per_detection);

absl::StatusOr<std::vector<inference::Detection>> DetectionsFromTensors(
    const std::vector<protocol::Tensor>& outputs, const std::vector<std::string>& keypoint_names);

nlohmann::json DetectionsToJson(const std::vector<inference::Detection>& detections);
absl::StatusOr<std::vector<inference::Detection>> DetectionsFromJson(const nlohmann::json& json);

}  // namespace heteroaccel::api

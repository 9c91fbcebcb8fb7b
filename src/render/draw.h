// Draws detections onto a copy of the image they came from, so people can see
// what a model found: boxes with labels and scores, skeletons for pose and hand
// keypoints, quadrilaterals and strings for text.
//
// Which keypoints are joined is the type's skeleton (ModelSpec::skeleton, served
// in the model metadata as "skeleton"), so any type with keypoints is drawn
// without the renderer knowing it; a detection whose keypoints are the four
// quadrilateral corners (text) is drawn as its outline instead of a box. Pure
// functions; thread-safe.
#pragma once

#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "inference/detection.h"

namespace heteroaccel::render {

// Returns a BGR copy of `bgr` with every detection drawn on it, keypoints
// joined along `skeleton` (indices into each detection's keypoints). Keypoints
// whose score is below `min_keypoint_score` are left out (with their edges).
cv::Mat DrawDetections(const cv::Mat& bgr, const std::vector<inference::Detection>& detections,
                       const inference::Skeleton& skeleton = {}, float min_keypoint_score = 0.5f);

// Decodes an encoded JPEG/PNG, draws `detections` on it and writes the picture to
// `path` (format from its extension). The error says what failed.
absl::Status DrawToFile(std::string_view image_bytes,
                        const std::vector<inference::Detection>& detections,
                        const inference::Skeleton& skeleton, const std::string& path);

// Text as OpenCV's Hershey fonts can draw it: printable ASCII kept, anything
// else (a UTF-8 sequence) becomes one '?'.
std::string DrawableText(std::string_view utf8);

}  // namespace heteroaccel::render

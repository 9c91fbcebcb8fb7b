// Draws detections onto a copy of the image they came from, so people can see
// what a model found: boxes with labels and scores, skeletons for pose and hand
// keypoints, quadrilaterals and strings for text.
//
// Which keypoints are joined is decided by their names (MediaPipe's pose and
// hand topologies, text corners), so any type whose keypoints use those names is
// drawn the same way. Pure functions; thread-safe.
#pragma once

#include <opencv2/core.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "inference/detection.h"

namespace heteroaccel::render {

// Pairs of keypoint names drawn as lines when both are present.
const std::vector<std::pair<std::string, std::string>>& SkeletonEdges();

// Returns a BGR copy of `bgr` with every detection drawn on it. Keypoints whose
// score is below `min_keypoint_score` are left out (with their edges).
cv::Mat DrawDetections(const cv::Mat& bgr, const std::vector<inference::Detection>& detections,
                       float min_keypoint_score = 0.5f);

// Decodes an encoded JPEG/PNG, draws `detections` on it and writes the picture to
// `path` (format from its extension). The error says what failed.
absl::Status DrawToFile(std::string_view image_bytes,
                        const std::vector<inference::Detection>& detections,
                        const std::string& path);

// Text as OpenCV's Hershey fonts can draw it: printable ASCII kept, anything
// else (a UTF-8 sequence) becomes one '?'.
std::string DrawableText(std::string_view utf8);

}  // namespace heteroaccel::render

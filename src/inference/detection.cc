#include "inference/detection.h"

#include <algorithm>
#include <stdexcept>

namespace heteroaccel::inference {
namespace {

void SortByScore(std::vector<Detection>& detections) {
  std::stable_sort(detections.begin(), detections.end(),
                   [](const Detection& a, const Detection& b) { return a.score > b.score; });
}

}  // namespace

const std::vector<std::string>& QuadrilateralCornerNames() {
  static const std::vector<std::string> names = {"top_left", "top_right", "bottom_right",
                                                 "bottom_left"};
  return names;
}

Skeleton SkeletonByName(
    const std::vector<std::string>& names,
    std::initializer_list<std::pair<std::string_view, std::string_view>> edges) {
  auto index = [&names](std::string_view name) {
    const auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) {
      throw std::invalid_argument("skeleton names an unknown keypoint: " + std::string(name));
    }
    return static_cast<int>(it - names.begin());
  };
  Skeleton skeleton;
  skeleton.reserve(edges.size());
  for (const auto& [a, b] : edges) skeleton.emplace_back(index(a), index(b));
  return skeleton;
}

const Skeleton& QuadrilateralSkeleton() {
  static const Skeleton outline = {{0, 1}, {1, 2}, {2, 3}, {3, 0}};
  return outline;
}

float IntersectionOverUnion(const Box& a, const Box& b) {
  const Box inter{std::max(a.x1, b.x1), std::max(a.y1, b.y1), std::min(a.x2, b.x2),
                  std::min(a.y2, b.y2)};
  const float inter_area = inter.Area();
  const float union_area = a.Area() + b.Area() - inter_area;
  return union_area > 0 ? inter_area / union_area : 0.0f;
}

std::vector<Detection> NonMaxSuppression(std::vector<Detection> detections, float iou_threshold,
                                         size_t max_results) {
  SortByScore(detections);
  std::vector<Detection> kept;
  for (Detection& candidate : detections) {
    if (kept.size() >= max_results) break;
    const bool suppressed = std::any_of(kept.begin(), kept.end(), [&](const Detection& k) {
      return k.class_id == candidate.class_id &&
             IntersectionOverUnion(k.box, candidate.box) > iou_threshold;
    });
    if (!suppressed) kept.push_back(std::move(candidate));
  }
  return kept;
}

std::vector<Detection> WeightedNonMaxSuppression(std::vector<Detection> detections,
                                                 float iou_threshold, size_t max_results) {
  SortByScore(detections);
  std::vector<Detection> kept;
  std::vector<bool> used(detections.size(), false);
  for (size_t i = 0; i < detections.size() && kept.size() < max_results; ++i) {
    if (used[i]) continue;
    Detection merged = detections[i];
    Box box_sum{};
    std::vector<Keypoint> keypoint_sum = merged.keypoints;
    for (Keypoint& k : keypoint_sum) k.x = k.y = 0;
    float weight_sum = 0;
    for (size_t j = i; j < detections.size(); ++j) {
      if (used[j] || IntersectionOverUnion(detections[i].box, detections[j].box) <= iou_threshold) {
        continue;
      }
      used[j] = true;
      const Detection& d = detections[j];
      const float w = d.score;
      weight_sum += w;
      box_sum.x1 += w * d.box.x1;
      box_sum.y1 += w * d.box.y1;
      box_sum.x2 += w * d.box.x2;
      box_sum.y2 += w * d.box.y2;
      for (size_t k = 0; k < keypoint_sum.size() && k < d.keypoints.size(); ++k) {
        keypoint_sum[k].x += w * d.keypoints[k].x;
        keypoint_sum[k].y += w * d.keypoints[k].y;
      }
    }
    if (weight_sum > 0) {
      merged.box = {box_sum.x1 / weight_sum, box_sum.y1 / weight_sum, box_sum.x2 / weight_sum,
                    box_sum.y2 / weight_sum};
      for (size_t k = 0; k < keypoint_sum.size(); ++k) {
        merged.keypoints[k].x = keypoint_sum[k].x / weight_sum;
        merged.keypoints[k].y = keypoint_sum[k].y / weight_sum;
      }
    }
    kept.push_back(std::move(merged));
  }
  return kept;
}

void ClampToImage(Detection& detection, int width, int height) {
  const auto clamp_x = [&](float v) { return std::clamp(v, 0.0f, static_cast<float>(width)); };
  const auto clamp_y = [&](float v) { return std::clamp(v, 0.0f, static_cast<float>(height)); };
  detection.box = {clamp_x(detection.box.x1), clamp_y(detection.box.y1), clamp_x(detection.box.x2),
                   clamp_y(detection.box.y2)};
  for (Keypoint& k : detection.keypoints) {
    k.x = clamp_x(k.x);
    k.y = clamp_y(k.y);
  }
}

}  // namespace heteroaccel::inference

// Detection: the one output schema every inference type produces.
//
// Boxes and keypoints are in the pixel coordinates of the image the client sent
// (x grows right, y grows down). Plain values; thread-compatible.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace heteroaccel::inference {

struct Keypoint {
  std::string name;
  float x = 0;
  float y = 0;
  // Confidence that the point is visible (pose) or 1 where the model has none.
  float score = 1;
};

struct Box {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  float Width() const { return x2 > x1 ? x2 - x1 : 0; }
  float Height() const { return y2 > y1 ? y2 - y1 : 0; }
  float Area() const { return Width() * Height(); }
};

struct Detection {
  Box box;
  float score = 0;
  int class_id = 0;
  std::string label;
  std::vector<Keypoint> keypoints;
  // The recognised string for `text`; the handedness ("left"/"right") for `hand`
  // and `gesture`; empty otherwise.
  std::string text;
};

// The keypoint names of a quadrilateral (a text line), clockwise from the top
// left: top_left, top_right, bottom_right, bottom_left.
const std::vector<std::string>& QuadrilateralCornerNames();

// The keypoints a type joins with lines when drawn: pairs of indices into its
// keypoint names (so into each Detection's keypoints, which follow that order).
using Skeleton = std::vector<std::pair<int, int>>;

// A skeleton written with names. Throws std::invalid_argument for a name not in
// `names` (a misspelt table, caught by the catalog's tests).
Skeleton SkeletonByName(const std::vector<std::string>& names,
                        std::initializer_list<std::pair<std::string_view, std::string_view>> edges);

// The quadrilateral's outline: each corner to the next, around.
const Skeleton& QuadrilateralSkeleton();

float IntersectionOverUnion(const Box& a, const Box& b);

// Hard non-maximum suppression within each class_id. Keeps at most `max_results`,
// highest score first.
std::vector<Detection> NonMaxSuppression(std::vector<Detection> detections, float iou_threshold,
                                         size_t max_results);

// MediaPipe's weighted ("blending") suppression: overlapping detections are merged
// into one whose box and keypoints are the score-weighted mean of the cluster. More
// stable than hard NMS for single-class detectors with many anchors per object.
std::vector<Detection> WeightedNonMaxSuppression(std::vector<Detection> detections,
                                                 float iou_threshold, size_t max_results);

// Clamps box and keypoints to [0,width]x[0,height].
void ClampToImage(Detection& detection, int width, int height);

}  // namespace heteroaccel::inference

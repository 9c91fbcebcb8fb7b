// SSD-style anchor generation, following MediaPipe's SsdAnchorsCalculator so the
// converted MediaPipe detectors decode exactly as they do upstream.
//
// Anchors are in normalised [0,1] input coordinates. Pure functions.
#pragma once

#include <string>
#include <vector>

#include "inference/detection.h"
#include "inference/image.h"

namespace heteroaccel::inference {

struct Anchor {
  float x_center = 0, y_center = 0, width = 1, height = 1;
};

struct AnchorOptions {
  int input_width = 0;
  int input_height = 0;
  int num_layers = 0;
  float min_scale = 0;
  float max_scale = 0;
  std::vector<int> strides;
  std::vector<float> aspect_ratios;
  float anchor_offset_x = 0.5f;
  float anchor_offset_y = 0.5f;
  float interpolated_scale_aspect_ratio = 1.0f;  // <= 0 disables the extra anchor
  bool reduce_boxes_in_lowest_layer = false;
  bool fixed_anchor_size = false;
};

std::vector<Anchor> GenerateAnchors(const AnchorOptions& options);

// The logistic function, with the logit clamped to [-100, 100].
float Sigmoid(float logit);

// How a MediaPipe detector head (BlazeFace, the palm detector) encodes a box:
// per anchor, x, y, w, h and then (x, y) per keypoint, in network pixels relative
// to the anchor's centre (TensorsToDetectionsCalculator with x/y/w/h scales equal
// to the input size).
struct AnchorBoxDecoding {
  float input_size = 0;  // network pixels per normalised unit
  float min_score = 0.5f;
  std::string label;
  std::vector<std::string> keypoint_names;  // in output order
};

// Appends the detections of `count` anchors, anchors[first + i] for row i, whose
// sigmoid(logits[i]) reaches min_score; `values` holds `stride` floats per row.
// Boxes and keypoints are mapped to image pixels through `placement`.
void DecodeAnchorBoxes(const float* logits, const float* values, size_t count, size_t stride,
                       const std::vector<Anchor>& anchors, size_t first,
                       const AnchorBoxDecoding& decoding, const Placement& placement,
                       std::vector<Detection>& out);

}  // namespace heteroaccel::inference

// SSD-style anchor generation, following MediaPipe's SsdAnchorsCalculator so the
// converted MediaPipe detectors decode exactly as they do upstream.
//
// Anchors are in normalised [0,1] input coordinates. Pure functions.
#pragma once

#include <vector>

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

}  // namespace heteroaccel::inference

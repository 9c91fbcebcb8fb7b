#include "inference/anchors.h"

#include <cmath>

namespace heteroaccel::inference {
namespace {

float Scale(const AnchorOptions& o, int layer) {
  if (o.num_layers == 1) return (o.min_scale + o.max_scale) * 0.5f;
  return o.min_scale + (o.max_scale - o.min_scale) * static_cast<float>(layer) /
                           static_cast<float>(o.num_layers - 1);
}

}  // namespace

std::vector<Anchor> GenerateAnchors(const AnchorOptions& o) {
  std::vector<Anchor> anchors;
  int layer = 0;
  while (layer < o.num_layers) {
    std::vector<float> heights, widths, ratios, scales;
    // Consecutive layers with the same stride share one feature map.
    int last = layer;
    while (last < o.num_layers && o.strides[last] == o.strides[layer]) {
      const float scale = Scale(o, last);
      if (last == 0 && o.reduce_boxes_in_lowest_layer) {
        ratios.insert(ratios.end(), {1.0f, 2.0f, 0.5f});
        scales.insert(scales.end(), {0.1f, scale, scale});
      } else {
        for (float ratio : o.aspect_ratios) {
          ratios.push_back(ratio);
          scales.push_back(scale);
        }
        if (o.interpolated_scale_aspect_ratio > 0) {
          const float next = last == o.num_layers - 1 ? 1.0f : Scale(o, last + 1);
          scales.push_back(std::sqrt(scale * next));
          ratios.push_back(o.interpolated_scale_aspect_ratio);
        }
      }
      ++last;
    }
    for (size_t i = 0; i < ratios.size(); ++i) {
      const float root = std::sqrt(ratios[i]);
      heights.push_back(scales[i] / root);
      widths.push_back(scales[i] * root);
    }
    const int stride = o.strides[layer];
    const int fm_height = static_cast<int>(std::ceil(static_cast<float>(o.input_height) / stride));
    const int fm_width = static_cast<int>(std::ceil(static_cast<float>(o.input_width) / stride));
    for (int y = 0; y < fm_height; ++y) {
      for (int x = 0; x < fm_width; ++x) {
        for (size_t a = 0; a < heights.size(); ++a) {
          Anchor anchor;
          anchor.x_center = (static_cast<float>(x) + o.anchor_offset_x) / fm_width;
          anchor.y_center = (static_cast<float>(y) + o.anchor_offset_y) / fm_height;
          if (!o.fixed_anchor_size) {
            anchor.width = widths[a];
            anchor.height = heights[a];
          }
          anchors.push_back(anchor);
        }
      }
    }
    layer = last;
  }
  return anchors;
}

}  // namespace heteroaccel::inference

#include "inference/anchors.h"

#include <algorithm>
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

float Sigmoid(float logit) { return 1.0f / (1.0f + std::exp(-std::clamp(logit, -100.0f, 100.0f))); }

void DecodeAnchorBoxes(const float* logits, const float* values, size_t count, size_t stride,
                       const std::vector<Anchor>& anchors, size_t first,
                       const AnchorBoxDecoding& decoding, const Placement& placement,
                       std::vector<Detection>& out) {
  const float size = decoding.input_size;
  for (size_t i = 0; i < count && first + i < anchors.size(); ++i) {
    const float score = Sigmoid(logits[i]);
    if (score < decoding.min_score) continue;
    const Anchor& a = anchors[first + i];
    const float* r = values + i * stride;
    const float cx = r[0] / size + a.x_center;
    const float cy = r[1] / size + a.y_center;
    const float w = r[2] / size;
    const float h = r[3] / size;
    Detection d;
    d.score = score;
    d.label = decoding.label;
    d.box = {placement.ImageX(cx - w / 2), placement.ImageY(cy - h / 2),
             placement.ImageX(cx + w / 2), placement.ImageY(cy + h / 2)};
    for (size_t k = 0; k < decoding.keypoint_names.size() && 5 + 2 * k < stride; ++k) {
      d.keypoints.push_back({decoding.keypoint_names[k],
                             placement.ImageX(r[4 + 2 * k] / size + a.x_center),
                             placement.ImageY(r[5 + 2 * k] / size + a.y_center)});
    }
    out.push_back(std::move(d));
  }
}

}  // namespace heteroaccel::inference

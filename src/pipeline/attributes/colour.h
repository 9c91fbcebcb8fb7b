// Dominant colour of an object: one name from a fixed palette, read from the
// object's crop (a car's paint, a person's clothes) for events and search.
//
// The crop's border is ignored (it is mostly background when the box is a
// detector's), the central region is histogrammed in HSV, and saturated,
// mid-bright pixels weigh more than washed-out ones, so a red car on grey tarmac
// reads "red". Achromatic pixels vote black, grey or white by brightness.
// Pure functions of their input; thread-safe.
#pragma once

#include <opencv2/core/mat.hpp>
#include <span>
#include <string>
#include <string_view>

#include "pipeline/types.h"

namespace heteroaccel::pipeline {

// The palette, in a stable order: black, white, grey, red, orange, yellow,
// green, cyan, blue, purple, pink, brown.
std::span<const std::string_view> ColourPalette();

struct ColourOptions {
  // Fraction of the crop's width and height dropped on each side before
  // counting (0.15: the central 70% x 70% is used).
  double border = 0.15;
  // Crops larger than this (either side) are resized down first; bounds the work.
  int max_side = 128;
};

// The dominant colour of a BGR (CV_8UC3) crop; "" when the crop is empty or of
// another type. Grey images (CV_8UC1) are accepted and read black/grey/white.
std::string DominantColour(const cv::Mat& bgr_crop, const ColourOptions& options = {});

// The dominant colour of `box` in a whole BGR frame; the box is clipped to the
// frame, "" when nothing of it lies inside.
std::string DominantColour(const cv::Mat& bgr_frame, const Rect& box,
                           const ColourOptions& options = {});

}  // namespace heteroaccel::pipeline

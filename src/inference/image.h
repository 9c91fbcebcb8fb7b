// Image input: turns what a client sent (encoded JPEG/PNG bytes, or raw HxWx3
// pixels) into a BGR cv::Mat, and prepares network input blobs from it.
//
// All functions are pure and thread-safe. Decoding rejects images whose header
// announces more than kMaxImagePixels before any pixel memory is allocated.
#pragma once

#include <opencv2/core.hpp>
#include <string_view>

#include "absl/status/statusor.h"

namespace heteroaccel::inference {

inline constexpr int64_t kMaxImagePixels = 40'000'000;

// Decodes a JPEG or PNG. InvalidArgument names what was wrong.
absl::StatusOr<cv::Mat> DecodeImage(std::string_view bytes);

// Wraps raw RGB pixels in row-major [height, width, 3] order (the UINT8 tensor
// form of the protocol) as a BGR image.
absl::StatusOr<cv::Mat> ImageFromRgbPixels(std::string_view pixels, int64_t height, int64_t width);

// How an image was placed into a network's square input: scale, then offset.
// Maps network coordinates (normalised to [0,1]) back to image pixels.
struct Placement {
  float scale = 1;  // network pixels per image pixel (per axis when stretched)
  float scale_y = 1;
  float pad_x = 0;  // network pixels of padding on the left / top
  float pad_y = 0;
  int net_width = 0;
  int net_height = 0;
  float ImageX(float normalised_x) const { return (normalised_x * net_width - pad_x) / scale; }
  float ImageY(float normalised_y) const { return (normalised_y * net_height - pad_y) / scale_y; }
};

enum class Fit { kStretch, kLetterbox };

struct BlobOptions {
  int width = 0;
  int height = 0;
  Fit fit = Fit::kStretch;
  float low = -1.0f;  // pixel value 0 maps to `low`, 255 to `high`
  float high = 1.0f;
  bool rgb = true;  // channel order the network expects
};

// Builds an NHWC float blob [1,H,W,3] from a BGR image and says where it went.
cv::Mat MakeNhwcBlob(const cv::Mat& bgr, const BlobOptions& options, Placement* placement);

}  // namespace heteroaccel::inference

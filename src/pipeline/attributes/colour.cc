#include "pipeline/attributes/colour.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace heteroaccel::pipeline {
namespace {

enum Colour {
  kBlack,
  kWhite,
  kGrey,
  kRed,
  kOrange,
  kYellow,
  kGreen,
  kCyan,
  kBlue,
  kPurple,
  kPink,
  kBrown,
  kColours
};

constexpr std::array<std::string_view, kColours> kPalette = {"black",  "white",  "grey",  "red",
                                                             "orange", "yellow", "green", "cyan",
                                                             "blue",   "purple", "pink",  "brown"};

// Thresholds on OpenCV's 8-bit HSV (H in [0,180), S and V in [0,255]).
constexpr int kDarkV = 50;    // below: black whatever the hue
constexpr int kGreyS = 50;    // below: achromatic
constexpr int kWhiteV = 190;  // achromatic above: white
constexpr int kBlackV = 70;   // achromatic below: black
constexpr int kBrownV = 150;  // red/orange/yellow hues darker than this read brown
constexpr int kPaleS = 130;   // red hues this pale and bright read pink
constexpr int kPaleV = 180;

Colour ClassifyHue(int h, int s, int v) {
  if (h < 5 || h >= 168) {
    if (v < kBrownV - 30 && s < 200) return kBrown;  // maroon stays red when saturated
    if (s < kPaleS && v >= kPaleV) return kPink;
    return kRed;
  }
  if (h < 18) return v < kBrownV ? kBrown : kOrange;
  if (h < 34) return v < kBrownV - 20 ? kBrown : kYellow;
  if (h < 80) return kGreen;
  if (h < 100) return kCyan;
  if (h < 130) return kBlue;
  if (h < 150) return kPurple;
  return kPink;
}

// Votes of one pixel: achromatic pixels count less than saturated ones, so a
// coloured object reads as its colour despite highlights, shadows and
// background left inside the box.
void Vote(const cv::Vec3b& hsv, std::array<double, kColours>& votes) {
  const int h = hsv[0], s = hsv[1], v = hsv[2];
  if (v < kDarkV) {
    votes[kBlack] += 0.6;
  } else if (s < kGreyS) {
    votes[v >= kWhiteV ? kWhite : v < kBlackV ? kBlack : kGrey] += 0.6;
  } else {
    votes[ClassifyHue(h, s, v)] += 0.4 + s / 255.0;
  }
}

}  // namespace

std::span<const std::string_view> ColourPalette() { return kPalette; }

std::string DominantColour(const cv::Mat& bgr_crop, const ColourOptions& options) {
  if (bgr_crop.empty() || bgr_crop.depth() != CV_8U ||
      (bgr_crop.channels() != 3 && bgr_crop.channels() != 1)) {
    return "";
  }
  const double border = std::clamp(options.border, 0.0, 0.45);
  const int bx = static_cast<int>(std::floor(bgr_crop.cols * border));
  const int by = static_cast<int>(std::floor(bgr_crop.rows * border));
  cv::Mat centre = bgr_crop(cv::Rect(bx, by, bgr_crop.cols - 2 * bx, bgr_crop.rows - 2 * by));

  const int max_side = std::max(options.max_side, 8);
  if (centre.cols > max_side || centre.rows > max_side) {
    const double f = static_cast<double>(max_side) / std::max(centre.cols, centre.rows);
    cv::Mat small;
    cv::resize(centre, small,
               cv::Size(std::max(1, static_cast<int>(centre.cols * f)),
                        std::max(1, static_cast<int>(centre.rows * f))),
               0, 0, cv::INTER_AREA);
    centre = small;
  }
  cv::Mat bgr;
  if (centre.channels() == 1) {
    cv::cvtColor(centre, bgr, cv::COLOR_GRAY2BGR);
  } else {
    bgr = centre;
  }
  cv::Mat hsv;
  cv::cvtColor(bgr, hsv, cv::COLOR_BGR2HSV);

  std::array<double, kColours> votes{};
  for (int y = 0; y < hsv.rows; ++y) {
    const auto* row = hsv.ptr<cv::Vec3b>(y);
    for (int x = 0; x < hsv.cols; ++x) Vote(row[x], votes);
  }
  const auto best = std::max_element(votes.begin(), votes.end());
  return std::string(kPalette[best - votes.begin()]);
}

std::string DominantColour(const cv::Mat& bgr_frame, const Rect& box,
                           const ColourOptions& options) {
  if (bgr_frame.empty()) return "";
  const auto clampi = [](float v, int hi) {
    if (!(v >= 0)) return 0;  // also NaN
    return v >= static_cast<float>(hi) ? hi : static_cast<int>(v);
  };
  const int x1 = clampi(std::floor(box.x1), bgr_frame.cols);
  const int y1 = clampi(std::floor(box.y1), bgr_frame.rows);
  const int x2 = clampi(std::ceil(box.x2), bgr_frame.cols);
  const int y2 = clampi(std::ceil(box.y2), bgr_frame.rows);
  if (x2 <= x1 || y2 <= y1) return "";
  return DominantColour(bgr_frame(cv::Rect(x1, y1, x2 - x1, y2 - y1)), options);
}

}  // namespace heteroaccel::pipeline

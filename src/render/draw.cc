#include "render/draw.h"

#include <algorithm>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "inference/image.h"

namespace heteroaccel::render {
namespace {

using inference::Detection;
using inference::Keypoint;

// One colour per class id, well apart in hue, readable on light and dark images.
cv::Scalar ClassColour(int class_id) {
  static const cv::Scalar palette[] = {{0, 200, 255}, {255, 120, 0}, {80, 220, 80}, {220, 60, 220},
                                       {40, 40, 255}, {255, 220, 0}, {0, 140, 255}, {200, 200, 40}};
  return palette[static_cast<size_t>(std::abs(class_id)) % std::size(palette)];
}

int Thickness(const cv::Mat& image) { return std::max(1, std::min(image.cols, image.rows) / 300); }

void Label(cv::Mat& image, const std::string& text, cv::Point at, const cv::Scalar& colour) {
  const double scale = std::max(0.4, std::min(image.cols, image.rows) / 1000.0);
  int baseline = 0;
  const cv::Size size = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &baseline);
  at.y = std::max(at.y, size.height + 2);
  cv::rectangle(image, {at.x, at.y - size.height - 2}, {at.x + size.width + 2, at.y + baseline},
                colour, cv::FILLED);
  cv::putText(image, text, {at.x + 1, at.y - 1}, cv::FONT_HERSHEY_SIMPLEX, scale, {0, 0, 0}, 1,
              cv::LINE_AA);
}

cv::Point ToPoint(const Keypoint& k) {
  return {static_cast<int>(std::lround(k.x)), static_cast<int>(std::lround(k.y))};
}

}  // namespace

std::string DrawableText(std::string_view utf8) {
  std::string out;
  for (size_t i = 0; i < utf8.size(); ++i) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x80) {
      out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : ' ';
      continue;
    }
    out += '?';
    // Skip the continuation bytes of this sequence.
    while (i + 1 < utf8.size() && (static_cast<unsigned char>(utf8[i + 1]) & 0xC0) == 0x80) ++i;
  }
  return out;
}

cv::Mat DrawDetections(const cv::Mat& bgr, const std::vector<Detection>& detections,
                       const inference::Skeleton& skeleton, float min_keypoint_score) {
  cv::Mat image = bgr.clone();
  const int thickness = Thickness(image);
  const auto& corners = inference::QuadrilateralCornerNames();
  for (const Detection& d : detections) {
    const cv::Scalar colour = ClassColour(d.class_id);
    auto visible = [&](int i) {
      return i >= 0 && static_cast<size_t>(i) < d.keypoints.size() &&
             d.keypoints[static_cast<size_t>(i)].score >= min_keypoint_score;
    };
    const bool quadrilateral = d.keypoints.size() == corners.size() && visible(0) && visible(2) &&
                               d.keypoints[0].name == corners[0];
    if (!quadrilateral) {
      cv::rectangle(image, cv::Point2f(d.box.x1, d.box.y1), cv::Point2f(d.box.x2, d.box.y2), colour,
                    thickness, cv::LINE_AA);
    }
    bool joined = false;
    for (const auto& [a, b] : skeleton) {
      if (!visible(a) || !visible(b)) continue;
      cv::line(image, ToPoint(d.keypoints[static_cast<size_t>(a)]),
               ToPoint(d.keypoints[static_cast<size_t>(b)]),
               quadrilateral ? colour : cv::Scalar(255, 255, 255), thickness, cv::LINE_AA);
      joined = true;
    }
    if (!quadrilateral) {
      for (size_t i = 0; i < d.keypoints.size(); ++i) {
        if (!visible(static_cast<int>(i))) continue;
        cv::circle(image, ToPoint(d.keypoints[i]), thickness + (joined ? 1 : 2), colour, cv::FILLED,
                   cv::LINE_AA);
      }
    }
    std::string caption = d.label;
    if (!d.text.empty()) caption = quadrilateral ? d.text : d.label + " " + d.text;
    caption = absl::StrFormat("%s %.2f", DrawableText(caption), d.score);
    Label(image, caption, {static_cast<int>(d.box.x1), static_cast<int>(d.box.y1) - 2}, colour);
  }
  return image;
}

absl::Status DrawToFile(std::string_view image_bytes, const std::vector<Detection>& detections,
                        const inference::Skeleton& skeleton, const std::string& path) {
  absl::StatusOr<cv::Mat> image = inference::DecodeImage(image_bytes);
  if (!image.ok()) return image.status();
  try {
    if (!cv::imwrite(path, DrawDetections(*image, detections, skeleton))) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": cannot write (use a .png or .jpg name)"));
    }
  } catch (const cv::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot write: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace heteroaccel::render

#include "render/draw.h"

#include <algorithm>
#include <map>
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

const std::vector<std::pair<std::string, std::string>>& SkeletonEdges() {
  static const std::vector<std::pair<std::string, std::string>> edges = [] {
    std::vector<std::pair<std::string, std::string>> e = {// Pose (MediaPipe BlazePose topology).
                                                          {"nose", "left_eye_inner"},
                                                          {"left_eye_inner", "left_eye"},
                                                          {"left_eye", "left_eye_outer"},
                                                          {"left_eye_outer", "left_ear"},
                                                          {"nose", "right_eye_inner"},
                                                          {"right_eye_inner", "right_eye"},
                                                          {"right_eye", "right_eye_outer"},
                                                          {"right_eye_outer", "right_ear"},
                                                          {"mouth_left", "mouth_right"},
                                                          {"left_shoulder", "right_shoulder"},
                                                          {"left_shoulder", "left_elbow"},
                                                          {"left_elbow", "left_wrist"},
                                                          {"right_shoulder", "right_elbow"},
                                                          {"right_elbow", "right_wrist"},
                                                          {"left_wrist", "left_pinky"},
                                                          {"left_wrist", "left_index"},
                                                          {"left_wrist", "left_thumb"},
                                                          {"left_pinky", "left_index"},
                                                          {"right_wrist", "right_pinky"},
                                                          {"right_wrist", "right_index"},
                                                          {"right_wrist", "right_thumb"},
                                                          {"right_pinky", "right_index"},
                                                          {"left_shoulder", "left_hip"},
                                                          {"right_shoulder", "right_hip"},
                                                          {"left_hip", "right_hip"},
                                                          {"left_hip", "left_knee"},
                                                          {"left_knee", "left_ankle"},
                                                          {"right_hip", "right_knee"},
                                                          {"right_knee", "right_ankle"},
                                                          {"left_ankle", "left_heel"},
                                                          {"left_heel", "left_foot_index"},
                                                          {"left_ankle", "left_foot_index"},
                                                          {"right_ankle", "right_heel"},
                                                          {"right_heel", "right_foot_index"},
                                                          {"right_ankle", "right_foot_index"},
                                                          // Hand palm.
                                                          {"wrist", "thumb_cmc"},
                                                          {"wrist", "index_finger_mcp"},
                                                          {"wrist", "pinky_mcp"},
                                                          {"index_finger_mcp", "middle_finger_mcp"},
                                                          {"middle_finger_mcp", "ring_finger_mcp"},
                                                          {"ring_finger_mcp", "pinky_mcp"},
                                                          {"thumb_cmc", "thumb_mcp"},
                                                          {"thumb_mcp", "thumb_ip"},
                                                          {"thumb_ip", "thumb_tip"}};
    // Text quadrilateral: each corner to the next, around.
    const auto& corners = inference::QuadrilateralCornerNames();
    for (size_t i = 0; i < corners.size(); ++i) {
      e.push_back({corners[i], corners[(i + 1) % corners.size()]});
    }
    // Hand fingers: mcp -> pip -> dip -> tip.
    for (const char* finger : {"index_finger", "middle_finger", "ring_finger", "pinky"}) {
      const std::string f = finger;
      e.push_back({f + "_mcp", f + "_pip"});
      e.push_back({f + "_pip", f + "_dip"});
      e.push_back({f + "_dip", f + "_tip"});
    }
    return e;
  }();
  return edges;
}

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
                       float min_keypoint_score) {
  cv::Mat image = bgr.clone();
  const int thickness = Thickness(image);
  for (const Detection& d : detections) {
    const cv::Scalar colour = ClassColour(d.class_id);
    std::map<std::string_view, const Keypoint*> points;
    for (const Keypoint& k : d.keypoints) {
      if (k.score >= min_keypoint_score) points[k.name] = &k;
    }
    const auto& corners = inference::QuadrilateralCornerNames();
    const bool quadrilateral = points.count(corners.front()) && points.count(corners[2]);
    if (!quadrilateral) {
      cv::rectangle(image, cv::Point2f(d.box.x1, d.box.y1), cv::Point2f(d.box.x2, d.box.y2), colour,
                    thickness, cv::LINE_AA);
    }
    bool joined = false;
    for (const auto& [a, b] : SkeletonEdges()) {
      auto pa = points.find(a);
      auto pb = points.find(b);
      if (pa == points.end() || pb == points.end()) continue;
      cv::line(image, ToPoint(*pa->second), ToPoint(*pb->second),
               quadrilateral ? colour : cv::Scalar(255, 255, 255), thickness, cv::LINE_AA);
      joined = true;
    }
    if (!quadrilateral) {
      for (const auto& [name, k] : points) {
        cv::circle(image, ToPoint(*k), thickness + (joined ? 1 : 2), colour, cv::FILLED,
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
                        const std::string& path) {
  absl::StatusOr<cv::Mat> image = inference::DecodeImage(image_bytes);
  if (!image.ok()) return image.status();
  try {
    if (!cv::imwrite(path, DrawDetections(*image, detections))) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": cannot write (use a .png or .jpg name)"));
    }
  } catch (const cv::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot write: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace heteroaccel::render

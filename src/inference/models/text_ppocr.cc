#include "inference/models/text_ppocr.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "inference/dnn_runner.h"

namespace heteroaccel::inference {
namespace ppocr {

Quad OrderCorners(const std::array<cv::Point2f, 4>& points) {
  std::array<cv::Point2f, 4> p = points;
  std::sort(p.begin(), p.end(),
            [](const cv::Point2f& a, const cv::Point2f& b) { return a.x < b.x; });
  const auto [top_left, bottom_left] =
      p[0].y <= p[1].y ? std::pair(p[0], p[1]) : std::pair(p[1], p[0]);
  const auto [top_right, bottom_right] =
      p[2].y <= p[3].y ? std::pair(p[2], p[3]) : std::pair(p[3], p[2]);
  return {top_left, top_right, bottom_right, bottom_left};
}

namespace {

// Mean probability inside the region's own outline (PaddleOCR's score_mode
// "slow"). The "fast" mode averages over the minimum-area rectangle instead,
// which drops the long, slightly curved lines of a photographed page: their
// rectangle is mostly background.
float RegionScore(const cv::Mat& probability, const std::vector<cv::Point>& contour) {
  const cv::Rect bounds =
      cv::boundingRect(contour) & cv::Rect(0, 0, probability.cols, probability.rows);
  if (bounds.empty()) return 0;
  cv::Mat mask = cv::Mat::zeros(bounds.size(), CV_8U);
  cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{contour}, cv::Scalar(1), cv::LINE_8, 0,
               -bounds.tl());
  return static_cast<float>(cv::mean(probability(bounds), mask)[0]);
}

std::array<cv::Point2f, 4> Corners(const cv::RotatedRect& rect) {
  std::array<cv::Point2f, 4> corners;
  rect.points(corners.data());
  return corners;
}

}  // namespace

std::vector<TextBox> DbBoxes(const cv::Mat& probability, const DbOptions& options) {
  CV_Assert(probability.type() == CV_32F);
  cv::Mat bitmap = probability > options.threshold;
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(bitmap, contours, cv::RETR_LIST, cv::CHAIN_APPROX_SIMPLE);
  std::vector<TextBox> boxes;
  const size_t candidates = std::min<size_t>(contours.size(), options.max_candidates);
  for (size_t i = 0; i < candidates; ++i) {
    cv::RotatedRect rect = cv::minAreaRect(contours[i]);
    if (std::min(rect.size.width, rect.size.height) < options.min_size) continue;
    const float score = RegionScore(probability, contours[i]);
    if (score < options.box_threshold) continue;
    // Offsetting a rectangle outwards by d and taking the minimum-area rectangle
    // of the result (PaddleOCR's pyclipper unclip) grows each side by 2d.
    const float area = rect.size.area();
    const float perimeter = 2 * (rect.size.width + rect.size.height);
    const float d = area * options.unclip_ratio / perimeter;
    rect.size.width += 2 * d;
    rect.size.height += 2 * d;
    if (std::min(rect.size.width, rect.size.height) < options.min_size + 2) continue;
    boxes.push_back({OrderCorners(Corners(rect)), score});
  }
  return boxes;
}

std::vector<Window> LineWindows(int width, int window, int stride, int step) {
  const int end = (width + step - 1) / step * step;
  const int margin = (window - stride) / 2;
  std::vector<Window> windows;
  for (int begin = 0;; begin += stride) {
    windows.push_back({begin, begin == 0 ? 0 : begin + margin, begin + margin + stride});
    if (begin + window >= width) break;
  }
  windows.back().own_end = end;
  return windows;
}

void AppendBestPath(const float* probabilities, int first, int end, int classes,
                    std::vector<Step>& path) {
  for (int t = first; t < end; ++t) {
    const float* row = probabilities + static_cast<size_t>(t) * classes;
    const int best = static_cast<int>(std::max_element(row, row + classes) - row);
    path.push_back({best, row[best]});
  }
}

Decoded CtcCollapse(const std::vector<Step>& path, const std::vector<std::string>& charset) {
  Decoded decoded;
  double sum = 0;
  int previous = -1;
  for (const Step& step : path) {
    if (step.best != 0 && step.best != previous && step.best < static_cast<int>(charset.size())) {
      decoded.text += charset[step.best];
      sum += step.probability;
      ++decoded.characters;
    }
    previous = step.best;
  }
  if (decoded.characters > 0) decoded.score = static_cast<float>(sum / decoded.characters);
  return decoded;
}

Decoded CtcGreedyDecode(const float* probabilities, int steps, int classes,
                        const std::vector<std::string>& charset) {
  std::vector<Step> path;
  AppendBestPath(probabilities, 0, steps, classes, path);
  return CtcCollapse(path, charset);
}

}  // namespace ppocr

namespace {

using ppocr::Quad;

constexpr char kDetFile[] = "text/ppocrv4_det.onnx";
constexpr char kRecFile[] = "text/ppocrv4_rec_320.onnx";
constexpr char kKeysFile[] = "text/ppocr_keys_v1.txt";
constexpr int kDetLimit = 960;  // longest side of the detector's input
constexpr int kDetMultiple = 32;
constexpr int kRecHeight = 48;
constexpr int kRecWidth = 320;  // the width baked into kRecFile
constexpr int kRecStep = 8;     // input pixels per output time step
// Windows overlap by 80 px: each decides its middle 240 px and sees at least
// 40 px (about a character) of context on either side.
constexpr int kRecStride = 240;
// PaddleOCR's drop_score: lines recognised with a lower mean probability are noise.
constexpr float kDefaultMinScore = 0.5f;

// The class strings: blank, the dictionary in file order, then the space.
absl::StatusOr<std::vector<std::string>> ReadCharset(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::FailedPreconditionError(absl::StrCat("cannot read ", path));
  std::vector<std::string> charset = {""};
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    charset.push_back(line);
  }
  charset.push_back(" ");
  return charset;
}

// PaddleOCR's DetResizeForTest (limit_type "max"): shrink so the longest side is
// at most kDetLimit, then round each side to a multiple of 32.
cv::Size DetInputSize(cv::Size image) {
  const double ratio =
      std::min(1.0, static_cast<double>(kDetLimit) / std::max(image.width, image.height));
  auto round32 = [&](int side) {
    return std::max(kDetMultiple,
                    static_cast<int>(std::lround(side * ratio / kDetMultiple)) * kDetMultiple);
  };
  return {round32(image.width), round32(image.height)};
}

// BGR, ImageNet mean/std, NCHW.
cv::Mat DetBlob(const cv::Mat& bgr, cv::Size size) {
  cv::Mat resized, normalised;
  cv::resize(bgr, resized, size, 0, 0, cv::INTER_LINEAR);
  resized.convertTo(normalised, CV_32FC3, 1.0 / 255);
  cv::subtract(normalised, cv::Scalar(0.485, 0.456, 0.406), normalised);
  cv::divide(normalised, cv::Scalar(0.229, 0.224, 0.225), normalised);
  return cv::dnn::blobFromImage(normalised);
}

// PaddleOCR's get_rotate_crop_image: warp the quad to an upright rectangle;
// a crop much taller than wide is vertical text, turned to read left to right.
cv::Mat CropLine(const cv::Mat& bgr, const Quad& q) {
  const float width = std::max(cv::norm(q[0] - q[1]), cv::norm(q[2] - q[3]));
  const float height = std::max(cv::norm(q[0] - q[3]), cv::norm(q[1] - q[2]));
  const cv::Size size(std::max(1, cvRound(width)), std::max(1, cvRound(height)));
  const cv::Point2f target[4] = {{0, 0},
                                 {static_cast<float>(size.width), 0},
                                 {static_cast<float>(size.width), static_cast<float>(size.height)},
                                 {0, static_cast<float>(size.height)}};
  const cv::Mat transform = cv::getPerspectiveTransform(q.data(), target);
  cv::Mat crop;
  cv::warpPerspective(bgr, crop, transform, size, cv::INTER_CUBIC, cv::BORDER_REPLICATE);
  if (crop.rows >= 1.5 * crop.cols) cv::rotate(crop, crop, cv::ROTATE_90_COUNTERCLOCKWISE);
  return crop;
}

// One window of a line, at most kRecWidth wide: x/127.5 - 1, zero-padded right.
cv::Mat RecBlob(const cv::Mat& piece) {
  cv::Mat input(kRecHeight, kRecWidth, CV_32FC3, cv::Scalar::all(0));
  piece.convertTo(input(cv::Rect(0, 0, piece.cols, piece.rows)), CV_32FC3, 1 / 127.5, -1);
  return cv::dnn::blobFromImage(input);
}

void SortReadingOrder(std::vector<ppocr::TextBox>& boxes) {
  // PaddleOCR's sorted_boxes: top to bottom, then left to right within a row.
  std::sort(boxes.begin(), boxes.end(), [](const auto& a, const auto& b) {
    return std::pair(a.quad[0].y, a.quad[0].x) < std::pair(b.quad[0].y, b.quad[0].x);
  });
  for (size_t i = 1; i < boxes.size(); ++i) {
    for (size_t j = i; j > 0; --j) {
      const Quad& above = boxes[j - 1].quad;
      const Quad& here = boxes[j].quad;
      if (std::abs(here[0].y - above[0].y) >= 10 || here[0].x >= above[0].x) break;
      std::swap(boxes[j - 1], boxes[j]);
    }
  }
}

Detection LineDetection(const Quad& quad, const ppocr::Decoded& line, cv::Size image) {
  Detection d;
  d.label = "text";
  d.text = line.text;
  d.score = line.score;
  d.box = {quad[0].x, quad[0].y, quad[0].x, quad[0].y};
  for (size_t k = 0; k < quad.size(); ++k) {
    d.box.x1 = std::min(d.box.x1, quad[k].x);
    d.box.y1 = std::min(d.box.y1, quad[k].y);
    d.box.x2 = std::max(d.box.x2, quad[k].x);
    d.box.y2 = std::max(d.box.y2, quad[k].y);
    d.keypoints.push_back({QuadrilateralCornerNames()[k], quad[k].x, quad[k].y, 1});
  }
  ClampToImage(d, image.width, image.height);
  return d;
}

class PpOcrV4 final : public Model {
 public:
  PpOcrV4(std::unique_ptr<DnnRunner> det, std::unique_ptr<DnnRunner> rec,
          std::vector<std::string> charset, float min_score)
      : det_(std::move(det)),
        rec_(std::move(rec)),
        charset_(std::move(charset)),
        min_score_(min_score) {}

  absl::StatusOr<InferenceOutput> Run(const cv::Mat& image) override {
    if (image.empty() || image.depth() != CV_8U) {
      return absl::InvalidArgumentError("text: expected a non-empty 8-bit image");
    }
    cv::Mat bgr = image;
    if (image.channels() == 1) cv::cvtColor(image, bgr, cv::COLOR_GRAY2BGR);
    if (image.channels() == 4) cv::cvtColor(image, bgr, cv::COLOR_BGRA2BGR);
    ASSIGN_OR_RETURN(std::vector<ppocr::TextBox> boxes, Detect(bgr));
    rec_blobs_.clear();
    InferenceOutput out{{}, bgr.cols, bgr.rows};
    for (const ppocr::TextBox& box : boxes) {
      ASSIGN_OR_RETURN(ppocr::Decoded line, Recognize(CropLine(bgr, box.quad)));
      if (line.text.empty() || line.score < min_score_) continue;
      out.detections.push_back(LineDetection(box.quad, line, bgr.size()));
    }
    return out;
  }

  // The detector's forward and every recognition forward of the last Run().
  absl::Status ForwardOnly() override {
    RETURN_IF_ERROR(det_->ForwardAgain());
    for (const cv::Mat& blob : rec_blobs_) RETURN_IF_ERROR(rec_->Forward(blob).status());
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<std::vector<ppocr::TextBox>> Detect(const cv::Mat& bgr) {
    const cv::Size size = DetInputSize(bgr.size());
    ASSIGN_OR_RETURN(std::vector<cv::Mat> out, det_->Forward(DetBlob(bgr, size)));
    cv::Mat& map = out[0];  // [1,1,H,W]
    if (map.dims != 4 || map.size[2] != size.height || map.size[3] != size.width) {
      return absl::InternalError("text: unexpected detector output shape");
    }
    const cv::Mat probability(size, CV_32F, map.ptr<float>());
    std::vector<ppocr::TextBox> boxes = ppocr::DbBoxes(probability, {});
    const float sx = static_cast<float>(bgr.cols) / size.width;
    const float sy = static_cast<float>(bgr.rows) / size.height;
    // Not clamped to the image: the crop of a line touching the border would be
    // distorted (the warp replicates the border instead); the Detection is clamped.
    for (ppocr::TextBox& box : boxes) {
      for (cv::Point2f& p : box.quad) p = {p.x * sx, p.y * sy};
    }
    SortReadingOrder(boxes);
    return boxes;
  }

  // The line at the network's height, read through overlapping windows whose
  // middles are joined into one CTC path.
  absl::StatusOr<ppocr::Decoded> Recognize(const cv::Mat& crop) {
    const int width = std::max(
        1, static_cast<int>(std::ceil(static_cast<double>(kRecHeight) * crop.cols / crop.rows)));
    cv::Mat line;
    cv::resize(crop, line, {width, kRecHeight}, 0, 0, cv::INTER_LINEAR);
    std::vector<ppocr::Step> path;
    for (const ppocr::Window& w : ppocr::LineWindows(width, kRecWidth, kRecStride, kRecStep)) {
      const cv::Mat piece = line.colRange(w.begin, std::min(w.begin + kRecWidth, width));
      ASSIGN_OR_RETURN(cv::Mat probabilities, RecognizeWindow(piece));
      ppocr::AppendBestPath(probabilities.ptr<float>(), (w.own_begin - w.begin) / kRecStep,
                            (w.own_end - w.begin) / kRecStep, probabilities.size[2], path);
    }
    ppocr::Decoded decoded = ppocr::CtcCollapse(path, charset_);
    const size_t last = decoded.text.find_last_not_of(' ');
    decoded.text.erase(last == std::string::npos ? 0 : last + 1);
    decoded.text.erase(0, decoded.text.find_first_not_of(' '));
    return decoded;
  }

  // [1, kRecWidth / kRecStep, classes] probabilities for one window.
  absl::StatusOr<cv::Mat> RecognizeWindow(const cv::Mat& piece) {
    rec_blobs_.push_back(RecBlob(piece));
    ASSIGN_OR_RETURN(std::vector<cv::Mat> out, rec_->Forward(rec_blobs_.back()));
    const cv::Mat& probabilities = out[0];
    if (probabilities.dims != 3 || probabilities.size[1] * kRecStep != kRecWidth) {
      return absl::FailedPreconditionError(
          absl::StrCat("text: ", kRecFile, " is not a recognition model for width ", kRecWidth));
    }
    if (probabilities.size[2] != static_cast<int>(charset_.size())) {
      return absl::FailedPreconditionError(
          absl::StrCat("text: the recognition output does not match ", kKeysFile, " (",
                       charset_.size() - 2, " characters + blank + space)"));
    }
    return probabilities;
  }

  std::unique_ptr<DnnRunner> det_;
  std::unique_ptr<DnnRunner> rec_;
  std::vector<std::string> charset_;
  float min_score_;
  std::vector<cv::Mat> rec_blobs_;  // the last Run's recognition inputs, for ForwardOnly
};

}  // namespace

ModelSpec PpOcrV4Spec() {
  ModelSpec spec;
  spec.type = "text";
  spec.variant = "ppocr-v4";
  spec.description =
      "PP-OCRv4 (PaddleOCR): DB line detection + SVTR-LCNet recognition, Chinese/English/digits "
      "(6623 characters); one result per line with its four corners";
  spec.model_files = {kDetFile, kRecFile, kKeysFile};
  spec.labels = {"text"};
  spec.keypoint_names = QuadrilateralCornerNames();
  spec.skeleton = QuadrilateralSkeleton();
  spec.accuracy =
      "character error rate: page.png 0.047 (7 lines, test limit 0.10); rendered lines mean "
      "0.066, worst 0.231 (mostly dropped spaces; limits 0.12 / 0.35); boxes IoU >= 0.81; 0 "
      "lines on blank canvases (text_test.cc)";
  spec.create = [](const ModelOptions& options) -> absl::StatusOr<std::unique_ptr<Model>> {
    ASSIGN_OR_RETURN(std::string det_path, ModelPath(options, kDetFile));
    ASSIGN_OR_RETURN(std::string rec_path, ModelPath(options, kRecFile));
    ASSIGN_OR_RETURN(std::string keys_path, ModelPath(options, kKeysFile));
    // The detector takes each image at its own size; on OpenCL, OpenCV 4.6 gets a
    // changed size wrong unless the network is rebuilt (text_test.cc checks it).
    ASSIGN_OR_RETURN(auto det, DnnRunner::Create(det_path, options.target, {},
                                                 options.target == Target::kOpenCl));
    ASSIGN_OR_RETURN(auto rec, DnnRunner::Create(rec_path, options.target, {}));
    ASSIGN_OR_RETURN(auto charset, ReadCharset(keys_path));
    const float min_score =
        options.score_threshold >= 0 ? options.score_threshold : kDefaultMinScore;
    return std::make_unique<PpOcrV4>(std::move(det), std::move(rec), std::move(charset), min_score);
  };
  return spec;
}

}  // namespace heteroaccel::inference

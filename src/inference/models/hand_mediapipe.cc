#include "inference/models/hand_mediapipe.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <opencv2/imgproc.hpp>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "inference/dnn_runner.h"
#include "inference/image.h"

namespace heteroaccel::inference {
namespace {

constexpr int kPalmSize = 192;
constexpr int kLandmarkSize = 224;
constexpr int kPalmValues = 18;  // box (x, y, w, h) + 7 keypoints (x, y)
constexpr int kPalmKeypoints = 7;
constexpr size_t kHandLandmarks = 21;
constexpr float kPalmThreshold = 0.5f;    // palm_detection_cpu: min_score_thresh
constexpr float kPalmSuppression = 0.3f;  // weighted NMS, IoU
constexpr float kSameHandOverlap = 0.5f;  // two palms that led to one hand

// palm_detection_cpu's SsdAnchorsCalculator: a 24x24 map with 2 anchors per cell
// and a 12x12 map with 6 (2016 in all), all of unit size.
AnchorOptions PalmAnchors() {
  AnchorOptions o;
  o.input_width = o.input_height = kPalmSize;
  o.num_layers = 4;
  o.min_scale = 0.1484375f;
  o.max_scale = 0.75f;
  o.strides = {8, 16, 16, 16};
  o.aspect_ratios = {1.0f};
  o.fixed_anchor_size = true;
  return o;
}

float NormalizeRadians(float angle) {
  constexpr float kTwoPi = 2 * std::numbers::pi_v<float>;
  return angle - kTwoPi * std::floor((angle + std::numbers::pi_v<float>) / kTwoPi);
}

bool HasShape(const cv::Mat& m, size_t total, int last_dim) {
  return m.total() == total && m.size[m.dims - 1] == last_dim;
}

// The crop of `region` as the landmark network's input, RGB in [0, 1]. Outside the
// image the border pixels are repeated (ImageToTensorCalculator's default).
cv::Mat CropBlob(const cv::Mat& bgr, const RotatedSquare& region, int size) {
  // warpAffine with WARP_INVERSE_MAP wants crop pixel index -> image pixel index;
  // pixel i covers [i, i + 1) in the continuous coordinates ToImage works in.
  const float scale = region.size / static_cast<float>(size);
  const float c = std::cos(region.rotation) * scale;
  const float s = std::sin(region.rotation) * scale;
  const cv::Point2f origin = region.ToImage(0.5f, 0.5f, size);
  const cv::Matx23f crop_to_image(c, -s, origin.x - 0.5f, s, c, origin.y - 0.5f);
  cv::Mat crop;
  cv::warpAffine(bgr, crop, crop_to_image, cv::Size(size, size),
                 cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_REPLICATE);
  return MakeNhwcBlob(crop, {size, size, Fit::kStretch, 0.0f, 1.0f, true}, nullptr);
}

Box Extent(const std::vector<Keypoint>& points) {
  Box box{points[0].x, points[0].y, points[0].x, points[0].y};
  for (const Keypoint& k : points) {
    box.x1 = std::min(box.x1, k.x);
    box.y1 = std::min(box.y1, k.y);
    box.x2 = std::max(box.x2, k.x);
    box.y2 = std::max(box.y2, k.y);
  }
  return box;
}

}  // namespace

const std::vector<std::string>& HandKeypointNames() {
  // clang-format off
  static const std::vector<std::string> names = {
      "wrist",
      "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
      "index_finger_mcp", "index_finger_pip", "index_finger_dip", "index_finger_tip",
      "middle_finger_mcp", "middle_finger_pip", "middle_finger_dip", "middle_finger_tip",
      "ring_finger_mcp", "ring_finger_pip", "ring_finger_dip", "ring_finger_tip",
      "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip"};
  // clang-format on
  return names;
}

const Skeleton& HandSkeleton() {
  static const Skeleton skeleton = SkeletonByName(HandKeypointNames(),
                                                  {// Palm.
                                                   {"wrist", "thumb_cmc"},
                                                   {"wrist", "index_finger_mcp"},
                                                   {"wrist", "pinky_mcp"},
                                                   {"index_finger_mcp", "middle_finger_mcp"},
                                                   {"middle_finger_mcp", "ring_finger_mcp"},
                                                   {"ring_finger_mcp", "pinky_mcp"},
                                                   // Fingers, from the palm out.
                                                   {"thumb_cmc", "thumb_mcp"},
                                                   {"thumb_mcp", "thumb_ip"},
                                                   {"thumb_ip", "thumb_tip"},
                                                   {"index_finger_mcp", "index_finger_pip"},
                                                   {"index_finger_pip", "index_finger_dip"},
                                                   {"index_finger_dip", "index_finger_tip"},
                                                   {"middle_finger_mcp", "middle_finger_pip"},
                                                   {"middle_finger_pip", "middle_finger_dip"},
                                                   {"middle_finger_dip", "middle_finger_tip"},
                                                   {"ring_finger_mcp", "ring_finger_pip"},
                                                   {"ring_finger_pip", "ring_finger_dip"},
                                                   {"ring_finger_dip", "ring_finger_tip"},
                                                   {"pinky_mcp", "pinky_pip"},
                                                   {"pinky_pip", "pinky_dip"},
                                                   {"pinky_dip", "pinky_tip"}});
  return skeleton;
}

cv::Point2f RotatedSquare::ToImage(float crop_x, float crop_y, int out_size) const {
  const float u = (crop_x / static_cast<float>(out_size) - 0.5f) * size;
  const float v = (crop_y / static_cast<float>(out_size) - 0.5f) * size;
  const float c = std::cos(rotation);
  const float s = std::sin(rotation);
  return {cx + u * c - v * s, cy + u * s + v * c};
}

// palm_detection_detection_to_roi: DetectionsToRectsCalculator (rotation target
// 90 degrees from keypoint 0 to 2) then RectTransformationCalculator (scale 2.6,
// shift_y -0.5, square_long).
RotatedSquare HandRegionFromPalm(const Detection& palm) {
  const Keypoint& wrist = palm.keypoints.at(0);
  const Keypoint& middle = palm.keypoints.at(2);
  RotatedSquare region;
  region.rotation = NormalizeRadians(std::numbers::pi_v<float> / 2 -
                                     std::atan2(-(middle.y - wrist.y), middle.x - wrist.x));
  const float width = palm.box.Width();
  const float height = palm.box.Height();
  // Shift by -0.5 box heights along the region's own y axis (towards the fingers).
  constexpr float kShiftY = -0.5f;
  region.cx = (palm.box.x1 + palm.box.x2) / 2 - height * kShiftY * std::sin(region.rotation);
  region.cy = (palm.box.y1 + palm.box.y2) / 2 + height * kShiftY * std::cos(region.rotation);
  region.size = std::max(width, height) * 2.6f;
  return region;
}

HandTrackerConfig FullHandConfig() {
  return {"hand/palm_detection_full.onnx", "hand/hand_landmark_full.onnx"};
}
HandTrackerConfig LiteHandConfig() {
  // 0.6: at MediaPipe's 0.5 the lite models report a hand (presence 0.51) on
  // chelsea.png's eye; real hands score above 0.9 (pose_hand_test.cc).
  return {"hand/palm_detection_lite.onnx", "hand/hand_landmark_lite.onnx", 0.6f};
}

absl::StatusOr<std::unique_ptr<HandTracker>> HandTracker::Create(const HandTrackerConfig& config,
                                                                 const ModelOptions& options) {
  ASSIGN_OR_RETURN(std::string palm_path, ModelPath(options, config.palm));
  ASSIGN_OR_RETURN(std::string landmark_path, ModelPath(options, config.landmark));
  // Palm: Identity = [1,2016,18] regressors, Identity_1 = [1,2016,1] score logits.
  ASSIGN_OR_RETURN(auto palm,
                   DnnRunner::Create(palm_path, options.target, {"Identity", "Identity_1"}));
  // Landmarks: Identity = [1,63] landmarks, Identity_1 = hand presence and
  // Identity_2 = handedness (both [1,1], already through a sigmoid); Identity_3
  // (world landmarks) is not used.
  ASSIGN_OR_RETURN(auto landmark, DnnRunner::Create(landmark_path, options.target,
                                                    {"Identity", "Identity_1", "Identity_2"}));
  const float presence =
      options.score_threshold >= 0 ? options.score_threshold : config.min_presence;
  return std::unique_ptr<HandTracker>(
      new HandTracker(std::move(palm), std::move(landmark), presence));
}

HandTracker::HandTracker(std::unique_ptr<DnnRunner> palm, std::unique_ptr<DnnRunner> landmark,
                         float presence_threshold)
    : palm_(std::move(palm)),
      landmark_(std::move(landmark)),
      anchors_(GenerateAnchors(PalmAnchors())),
      presence_threshold_(presence_threshold) {}

HandTracker::~HandTracker() = default;

absl::StatusOr<std::vector<Detection>> HandTracker::FindPalms(const cv::Mat& bgr) {
  Placement placement;
  const cv::Mat blob =
      MakeNhwcBlob(bgr, {kPalmSize, kPalmSize, Fit::kLetterbox, 0.0f, 1.0f, true}, &placement);
  ASSIGN_OR_RETURN(std::vector<cv::Mat> out, palm_->Forward(blob));
  palm_ran_ = true;
  const size_t n = anchors_.size();
  if (out.size() != 2 || !HasShape(out[0], n * kPalmValues, kPalmValues) ||
      !HasShape(out[1], n, 1)) {
    return absl::InternalError(
        absl::StrCat("palm detector must output [1,", n, ",18] and [1,", n, ",1]"));
  }
  static const AnchorBoxDecoding kPalm = [] {
    AnchorBoxDecoding d{kPalmSize, kPalmThreshold, "palm", {}};
    for (int k = 0; k < kPalmKeypoints; ++k) d.keypoint_names.push_back(absl::StrCat("palm_", k));
    return d;
  }();
  std::vector<Detection> candidates;
  DecodeAnchorBoxes(out[1].ptr<float>(), out[0].ptr<float>(), n, kPalmValues, anchors_, 0, kPalm,
                    placement, candidates);
  return WeightedNonMaxSuppression(std::move(candidates), kPalmSuppression, kMaxHands);
}

absl::StatusOr<Detection> HandTracker::FindLandmarks(const cv::Mat& bgr,
                                                     const RotatedSquare& region) {
  cv::Mat blob = CropBlob(bgr, region, kLandmarkSize);
  ASSIGN_OR_RETURN(std::vector<cv::Mat> out, landmark_->Forward(blob));
  last_landmark_inputs_.push_back(std::move(blob));
  if (out.size() != 3 || out[0].total() != kHandLandmarks * 3 || out[1].total() != 1 ||
      out[2].total() != 1) {
    return absl::InternalError("hand landmark model must output [1,63], [1,1] and [1,1]");
  }
  Detection hand;
  hand.label = "hand";
  hand.score = out[1].ptr<float>()[0];
  // The model's handedness is the probability of "Left" (handedness.txt: Left,
  // Right) for a mirrored image, i.e. of the person's right hand in an ordinary one.
  hand.text = out[2].ptr<float>()[0] > 0.5f ? "right" : "left";
  const auto* xyz = out[0].ptr<float>();  // x, y in crop pixels; z unused
  for (size_t k = 0; k < kHandLandmarks; ++k) {
    const cv::Point2f p = region.ToImage(xyz[3 * k], xyz[3 * k + 1], kLandmarkSize);
    hand.keypoints.push_back({HandKeypointNames()[k], p.x, p.y, 1.0f});
  }
  hand.box = Extent(hand.keypoints);
  return hand;
}

absl::StatusOr<std::vector<Detection>> HandTracker::Find(const cv::Mat& bgr) {
  last_landmark_inputs_.clear();
  ASSIGN_OR_RETURN(std::vector<Detection> palms, FindPalms(bgr));
  std::vector<Detection> hands;
  for (const Detection& palm : palms) {
    ASSIGN_OR_RETURN(Detection hand, FindLandmarks(bgr, HandRegionFromPalm(palm)));
    if (hand.score < presence_threshold_) continue;
    ClampToImage(hand, bgr.cols, bgr.rows);
    hands.push_back(std::move(hand));
  }
  // Two palm detections of one hand give two nearly equal landmark sets.
  return NonMaxSuppression(std::move(hands), kSameHandOverlap, kMaxHands);
}

absl::Status HandTracker::ForwardOnly() {
  if (!palm_ran_) return absl::FailedPreconditionError("ForwardOnly needs a Run first");
  RETURN_IF_ERROR(palm_->ForwardAgain());
  for (const cv::Mat& input : last_landmark_inputs_) {
    RETURN_IF_ERROR(landmark_->Forward(input).status());
  }
  return absl::OkStatus();
}

namespace {

// A Model over a HandTracker; `label_hands` (optional) turns the hands found into
// the type's detections.
class HandTrackerModel final : public Model {
 public:
  HandTrackerModel(std::unique_ptr<HandTracker> tracker, HandLabeler label_hands)
      : tracker_(std::move(tracker)), label_hands_(std::move(label_hands)) {}

  absl::StatusOr<InferenceOutput> Run(const cv::Mat& bgr) override {
    ASSIGN_OR_RETURN(std::vector<Detection> hands, tracker_->Find(bgr));
    if (label_hands_) label_hands_(hands);
    return InferenceOutput{std::move(hands), bgr.cols, bgr.rows};
  }

  absl::Status ForwardOnly() override { return tracker_->ForwardOnly(); }

 private:
  std::unique_ptr<HandTracker> tracker_;
  HandLabeler label_hands_;
};

ModelSpec MakeSpec(std::string variant, const HandTrackerConfig& config, std::string description) {
  return HandTrackerSpec("hand", std::move(variant), config, std::move(description), {"hand"},
                         nullptr);
}

}  // namespace

ModelSpec HandTrackerSpec(std::string type, std::string variant, const HandTrackerConfig& config,
                          std::string description, std::vector<std::string> labels,
                          HandLabeler label_hands) {
  ModelSpec spec;
  spec.type = std::move(type);
  spec.variant = std::move(variant);
  spec.description = std::move(description);
  spec.precision = "fp32 (from fp16 weights)";
  spec.model_files = {config.palm, config.landmark};
  spec.labels = std::move(labels);
  spec.keypoint_names = HandKeypointNames();
  spec.skeleton = HandSkeleton();
  spec.create =
      [config, label_hands](const ModelOptions& options) -> absl::StatusOr<std::unique_ptr<Model>> {
    ASSIGN_OR_RETURN(auto tracker, HandTracker::Create(config, options));
    return std::make_unique<HandTrackerModel>(std::move(tracker), label_hands);
  };
  return spec;
}

ModelSpec HandFullSpec() {
  ModelSpec spec =
      MakeSpec("hand-full", FullHandConfig(),
               "MediaPipe Hands (full palm detector 192x192 + full landmark model 224x224): "
               "21 keypoints and handedness per hand, up to 4 hands");
  spec.accuracy =
      "fingerpose nocurl.jpg: 1 hand (presence 0.99), index tip 12 px from the marked tip, "
      "keypoints follow 90-degree rotation within 12 px; 0 hands on chelsea, coffee, page, "
      "astronaut; handedness not verified (pose_hand_test.cc)";
  return spec;
}

ModelSpec HandLiteSpec() {
  ModelSpec spec =
      MakeSpec("hand-lite", LiteHandConfig(),
               "MediaPipe Hands (lite palm detector 192x192 + lite landmark model 224x224): "
               "21 keypoints and handedness per hand, up to 4 hands");
  spec.accuracy =
      "fingerpose nocurl.jpg: 1 hand (presence 0.98), index tip 22 px from the marked tip; "
      "0 hands on chelsea, coffee, page, astronaut (presence threshold 0.6, not 0.5); "
      "handedness not verified (pose_hand_test.cc)";
  return spec;
}

}  // namespace heteroaccel::inference

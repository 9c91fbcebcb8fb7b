// MediaPipe Hands on one still image: a palm detector finds palms, each palm
// gives a rotated square hand region, and a landmark network finds 21 hand
// landmarks, hand presence and handedness inside that region. Follows MediaPipe's
// palm_detection_cpu, palm_detection_detection_to_roi and hand_landmark_cpu
// graphs (without the frame-to-frame tracking, which a single image has no use for).
//
// HandTracker is shared by the `hand` and `gesture` inference types. It owns its
// two networks; like every Model it is not thread-safe (one instance per slot).
//
// Handedness: MediaPipe's model labels hands assuming a mirrored (selfie) image.
// HandTracker reports the hand of the person for an ordinary, non-mirrored
// photograph (what a camera facing the person records), i.e. MediaPipe's label
// swapped. For a mirrored selfie image the reported side is the opposite one.
// The model is often unsure on photos that show little of the palm (raw output
// 0.25..0.84 on the test photos, not flipping under mirroring): treat it as a hint.
#pragma once

#include <functional>
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "inference/anchors.h"
#include "inference/detection.h"
#include "inference/model.h"

namespace heteroaccel::inference {

class DnnRunner;

// The 21 landmark names in the model's output order (wrist, then four joints per
// finger from the thumb to the pinky).
const std::vector<std::string>& HandKeypointNames();
// MediaPipe's hand topology over those names.
const Skeleton& HandSkeleton();

// A square region of the image, rotated by `rotation` radians (clockwise on the
// screen, since y grows down) about its centre. Image pixel units.
struct RotatedSquare {
  float cx = 0, cy = 0;
  float size = 0;
  float rotation = 0;
  // Maps a point of an `out_size` x `out_size` crop of this region (continuous
  // pixel coordinates, origin at the crop's top-left corner) to the image.
  cv::Point2f ToImage(float crop_x, float crop_y, int out_size) const;
};

// MediaPipe's hand region for a palm detection (box and 7 keypoints in image
// pixels): rotated so that wrist (keypoint 0) -> middle-finger base (keypoint 2)
// points up, shifted half a box height towards the fingers, squared on the long
// side and scaled 2.6x. Pure; exposed for tests.
RotatedSquare HandRegionFromPalm(const Detection& palm);

struct HandTrackerConfig {
  // The two networks (relative to models_dir) and the presence a hand needs.
  std::string palm;           // palm detector
  std::string landmark;       // hand landmark model
  float min_presence = 0.5f;  // hand_landmark_cpu's ThresholdingCalculator
};
HandTrackerConfig FullHandConfig();  // palm_detection_full + hand_landmark_full
HandTrackerConfig LiteHandConfig();  // palm_detection_lite + hand_landmark_lite

class HandTracker {
 public:
  static absl::StatusOr<std::unique_ptr<HandTracker>> Create(const HandTrackerConfig& config,
                                                             const ModelOptions& options);

  // At most this many hands per image (MediaPipe's num_hands).
  static constexpr size_t kMaxHands = 4;

  // Hands in `bgr`, best first: label "hand", score = hand presence, text =
  // "left"/"right" (see above), box = extent of the 21 keypoints.
  absl::StatusOr<std::vector<Detection>> Find(const cv::Mat& bgr);
  // The palm detector's stage alone: label "palm", box and 7 palm keypoints in
  // image pixels, score above 0.5, after weighted suppression; best first.
  absl::StatusOr<std::vector<Detection>> FindPalms(const cv::Mat& bgr);
  // Re-runs the palm detector and the landmark network on the inputs of the last
  // Find (once per hand region), without pre- or post-processing.
  absl::Status ForwardOnly();

  ~HandTracker();

 private:
  HandTracker(std::unique_ptr<DnnRunner> palm, std::unique_ptr<DnnRunner> landmark,
              float presence_threshold);
  absl::StatusOr<Detection> FindLandmarks(const cv::Mat& bgr, const RotatedSquare& region);

  std::unique_ptr<DnnRunner> palm_;
  std::unique_ptr<DnnRunner> landmark_;
  std::vector<Anchor> anchors_;
  float presence_threshold_;
  bool palm_ran_ = false;
  std::vector<cv::Mat> last_landmark_inputs_;
};

// A spec for an inference type built on HandTracker (`hand`, `gesture`):
// `label_hands`, when set, relabels the hands found (class, label) in place.
using HandLabeler = std::function<void(std::vector<Detection>&)>;
ModelSpec HandTrackerSpec(std::string type, std::string variant, const HandTrackerConfig& config,
                          std::string description, std::vector<std::string> labels,
                          HandLabeler label_hands);

ModelSpec HandFullSpec();  // default: palm full + landmark full
ModelSpec HandLiteSpec();

}  // namespace heteroaccel::inference

#include "inference/models/pose_mediapipe.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "common/status_macros.h"
#include "inference/anchors.h"
#include "inference/dnn_runner.h"
#include "inference/image.h"
#include "inference/models/face_blazeface.h"
#include "inference/models/object_ssd.h"

namespace heteroaccel::inference {
namespace {

constexpr int kInputSize = 256;
constexpr int kLandmarks = 39;  // 33 body landmarks + 6 auxiliary ones
constexpr int kBodyLandmarks = 33;
constexpr size_t kValuesPerLandmark = 5;  // x, y, z, visibility, presence
constexpr size_t kMaxPeople = 4;
constexpr float kPersonThreshold = 0.5f;  // the SSD's Person score (0.58 on astronaut.png)
constexpr float kDefaultPresence = 0.5f;  // MediaPipe's ThresholdingCalculator
constexpr float kRegionScale = 1.25f;     // MediaPipe's pose_detection_to_roi margin
constexpr int kRefineKernel = 7;          // RefineLandmarksFromHeatmapCalculator options
constexpr float kMinConfidenceToRefine = 0.5f;
constexpr float kSamePersonOverlap = 0.5f;

// An axis-aligned square of the image (it may extend past the image's edges).
struct Square {
  float x = 0, y = 0, size = 0;  // top-left corner and side, image pixels
};

Square RegionForPerson(const Box& person) {
  const float side = std::max(person.Width(), person.Height()) * kRegionScale;
  return {(person.x1 + person.x2 - side) / 2, (person.y1 + person.y2 - side) / 2, side};
}

// A person's region guessed from their face, for when the person detector sees no
// body (a close-up, a half-length portrait): MediaPipe's pose detector frames the
// whole body around the hips, and a body is about 7.5 heads tall. With the face
// box's height h (about 3/4 of the head), the head's top is ~0.75 h above the
// face's centre, the hips ~4 h below it, and the body spans ~10 h; the square is
// that span with MediaPipe's margin. Parts outside the image are padded, as for
// any region reaching past an edge.
constexpr float kHipsBelowFace = 4.0f;   // face heights from the face's centre
constexpr float kBodyInFaces = 10.0f;    // face heights, head top to feet

Square RegionForFace(const Box& face) {
  const float h = face.Height();
  const float side = kBodyInFaces * h * kRegionScale;
  const float cx = (face.x1 + face.x2) / 2;
  const float cy = (face.y1 + face.y2) / 2 + kHipsBelowFace * h;
  return {cx - side / 2, cy - side / 2, side};
}

bool Contains(const Box& box, float x, float y) {
  return x >= box.x1 && x <= box.x2 && y >= box.y1 && y <= box.y2;
}

// The region resized to the network's input, RGB in [0, 1]; outside the image the
// border pixels are repeated (ImageToTensorCalculator's default).
cv::Mat CropBlob(const cv::Mat& bgr, const Square& region) {
  const float scale = kInputSize / region.size;  // network pixels per image pixel
  // Pixel i covers [i, i + 1): map centres, not corners.
  const cv::Matx23f image_to_crop(scale, 0, (0.5f - region.x) * scale - 0.5f, 0, scale,
                                  (0.5f - region.y) * scale - 0.5f);
  cv::Mat crop;
  cv::warpAffine(bgr, crop, image_to_crop, cv::Size(kInputSize, kInputSize), cv::INTER_LINEAR,
                 cv::BORDER_REPLICATE);
  return MakeNhwcBlob(crop, {kInputSize, kInputSize, Fit::kStretch, 0.0f, 1.0f, true}, nullptr);
}

// MediaPipe's RefineLandmarksFromHeatmapCalculator: replaces a landmark (x, y
// normalised to the crop) by the confidence-weighted mean position within a 7x7
// window of its heatmap channel, where that window is confident enough.
void RefineFromHeatmap(const cv::Mat& heatmap, int landmark, float& x, float& y) {
  const int height = heatmap.size[1];
  const int width = heatmap.size[2];
  const int channels = heatmap.size[3];
  const int col = static_cast<int>(x * static_cast<float>(width));
  const int row = static_cast<int>(y * static_cast<float>(height));
  if (x < 0 || y < 0 || col >= width || row >= height) return;
  const int half = (kRefineKernel - 1) / 2;
  const auto* data = heatmap.ptr<float>();
  float sum = 0, weighted_col = 0, weighted_row = 0, max_confidence = 0;
  for (int r = std::max(0, row - half); r < std::min(height, row + half + 1); ++r) {
    for (int c = std::max(0, col - half); c < std::min(width, col + half + 1); ++c) {
      const float confidence = Sigmoid(data[(r * width + c) * channels + landmark]);
      sum += confidence;
      max_confidence = std::max(max_confidence, confidence);
      weighted_col += static_cast<float>(c) * confidence;
      weighted_row += static_cast<float>(r) * confidence;
    }
  }
  if (max_confidence >= kMinConfidenceToRefine && sum > 0) {
    x = weighted_col / static_cast<float>(width) / sum;
    y = weighted_row / static_cast<float>(height) / sum;
  }
}

struct Pose {
  float presence = 0;
  std::vector<Keypoint> keypoints;
  Box extent;
};

Box Extent(const std::vector<Keypoint>& points) {
  Box box{points[0].x, points[0].y, points[0].x, points[0].y};
  for (const Keypoint& k : points) {
    box = {std::min(box.x1, k.x), std::min(box.y1, k.y), std::max(box.x2, k.x),
           std::max(box.y2, k.y)};
  }
  return box;
}

// outputs: [1,195] landmarks (crop pixels of 256), [1,1] presence (a probability),
// [1,64,64,39] heatmap logits.
absl::StatusOr<Pose> DecodePose(const std::vector<cv::Mat>& out, const Square& region) {
  if (out.size() != 3 || out[0].total() != kLandmarks * kValuesPerLandmark || out[1].total() != 1 ||
      out[2].dims != 4 || out[2].size[3] != kLandmarks) {
    return absl::InternalError("pose landmark model must output [1,195], [1,1], [1,64,64,39]");
  }
  Pose pose;
  pose.presence = out[1].ptr<float>()[0];
  const auto* values = out[0].ptr<float>();
  for (int k = 0; k < kBodyLandmarks; ++k) {
    const float* v = values + k * kValuesPerLandmark;
    float x = v[0] / kInputSize;
    float y = v[1] / kInputSize;
    RefineFromHeatmap(out[2], k, x, y);
    pose.keypoints.push_back({PoseKeypointNames()[k], region.x + x * region.size,
                              region.y + y * region.size, Sigmoid(v[3])});
  }
  pose.extent = Extent(pose.keypoints);
  return pose;
}

class PoseLandmarker final : public Model {
 public:
  PoseLandmarker(std::unique_ptr<Model> person_detector, std::unique_ptr<Model> face_detector,
                 std::unique_ptr<DnnRunner> landmarks, float presence_threshold)
      : person_detector_(std::move(person_detector)),
        face_detector_(std::move(face_detector)),
        landmarks_(std::move(landmarks)),
        presence_threshold_(presence_threshold) {}

  absl::StatusOr<InferenceOutput> Run(const cv::Mat& bgr) override {
    ASSIGN_OR_RETURN(InferenceOutput objects, person_detector_->Run(bgr));
    last_inputs_.clear();
    ran_face_ = false;
    ran_ = true;
    InferenceOutput result{{}, bgr.cols, bgr.rows};
    std::vector<Box> extents;  // of the poses kept, to drop a second region on one person
    // Runs the landmarks on `region`; keeps the pose unless it is absent or a
    // person already found.
    auto try_region = [&](const Square& region, const Box& box) -> absl::Status {
      last_inputs_.push_back(CropBlob(bgr, region));
      ASSIGN_OR_RETURN(std::vector<cv::Mat> out, landmarks_->Forward(last_inputs_.back()));
      ASSIGN_OR_RETURN(Pose pose, DecodePose(out, region));
      if (pose.presence < presence_threshold_) return absl::OkStatus();
      const bool seen = std::any_of(extents.begin(), extents.end(), [&](const Box& e) {
        return IntersectionOverUnion(e, pose.extent) > kSamePersonOverlap;
      });
      if (seen) return absl::OkStatus();
      extents.push_back(pose.extent);
      Detection d;
      d.box = box.Area() > 0 ? box : pose.extent;
      d.score = pose.presence;
      d.label = "person";
      d.keypoints = std::move(pose.keypoints);
      ClampToImage(d, bgr.cols, bgr.rows);
      result.detections.push_back(std::move(d));
      return absl::OkStatus();
    };
    std::vector<Box> people;
    for (const Detection& person : objects.detections) {  // best first
      if (person.label != "Person") continue;
      if (last_inputs_.size() == kMaxPeople) break;
      people.push_back(person.box);
      RETURN_IF_ERROR(try_region(RegionForPerson(person.box), person.box));
    }
    // Faces no person box holds: people the detector did not see whole.
    if (result.detections.size() < kMaxPeople && face_detector_ != nullptr) {
      ASSIGN_OR_RETURN(InferenceOutput faces, face_detector_->Run(bgr));
      ran_face_ = true;
      for (const Detection& face : faces.detections) {
        if (last_inputs_.size() >= kMaxPeople + 2) break;
        const float cx = (face.box.x1 + face.box.x2) / 2, cy = (face.box.y1 + face.box.y2) / 2;
        const bool held =
            std::any_of(people.begin(), people.end(),
                        [&](const Box& b) { return Contains(b, cx, cy); }) ||
            std::any_of(extents.begin(), extents.end(),
                        [&](const Box& b) { return Contains(b, cx, cy); });
        if (held) continue;
        RETURN_IF_ERROR(try_region(RegionForFace(face.box), Box{}));
      }
    }
    std::stable_sort(result.detections.begin(), result.detections.end(),
                     [](const Detection& a, const Detection& b) { return a.score > b.score; });
    return result;
  }

  // The person detector's and the landmark network's forward passes on the last
  // Run's inputs, so that Run minus this is the pipeline's own overhead.
  absl::Status ForwardOnly() override {
    if (!ran_) return absl::FailedPreconditionError("ForwardOnly needs a Run first");
    RETURN_IF_ERROR(person_detector_->ForwardOnly());
    if (ran_face_) RETURN_IF_ERROR(face_detector_->ForwardOnly());
    for (const cv::Mat& input : last_inputs_) RETURN_IF_ERROR(landmarks_->Forward(input).status());
    return absl::OkStatus();
  }

 private:
  std::unique_ptr<Model> person_detector_;
  std::unique_ptr<Model> face_detector_;
  std::unique_ptr<DnnRunner> landmarks_;
  float presence_threshold_;
  bool ran_ = false;
  bool ran_face_ = false;  // the last Run needed the face detector
  std::vector<cv::Mat> last_inputs_;
};

ModelSpec MakeSpec(std::string variant, const std::string& file, std::string description) {
  const ModelSpec detector = SsdMobileNetV2Spec();
  const ModelSpec face = BlazeFaceFront128Spec();
  ModelSpec spec;
  spec.type = "pose";
  spec.variant = std::move(variant);
  spec.description = std::move(description);
  spec.precision = "fp32 (from fp16 weights)";
  spec.model_files = detector.model_files;
  spec.model_files.insert(spec.model_files.end(), face.model_files.begin(),
                          face.model_files.end());
  spec.model_files.push_back(file);
  spec.labels = {"person"};
  spec.keypoint_names = PoseKeypointNames();
  spec.skeleton = PoseSkeleton();
  spec.create = [file, create_detector = detector.create, create_face = face.create](
                    const ModelOptions& options) -> absl::StatusOr<std::unique_ptr<Model>> {
    ASSIGN_OR_RETURN(std::string path, ModelPath(options, file));
    ModelOptions detector_options = options;
    detector_options.score_threshold = kPersonThreshold;
    ASSIGN_OR_RETURN(auto person_detector, create_detector(detector_options));
    ModelOptions face_options = options;
    face_options.score_threshold = -1;
    ASSIGN_OR_RETURN(auto face_detector, create_face(face_options));
    // Identity = landmarks, Identity_1 = presence, Identity_3 = heatmap (Identity_2,
    // the segmentation mask, and Identity_4, world landmarks, are not used).
    ASSIGN_OR_RETURN(auto landmarks, DnnRunner::Create(path, options.target,
                                                       {"Identity", "Identity_1", "Identity_3"}));
    const float presence =
        options.score_threshold >= 0 ? options.score_threshold : kDefaultPresence;
    return std::make_unique<PoseLandmarker>(std::move(person_detector), std::move(face_detector),
                                            std::move(landmarks), presence);
  };
  return spec;
}

}  // namespace

const std::vector<std::string>& PoseKeypointNames() {
  static const std::vector<std::string> names = {
      "nose",        "left_eye_inner",  "left_eye",        "left_eye_outer", "right_eye_inner",
      "right_eye",   "right_eye_outer", "left_ear",        "right_ear",      "mouth_left",
      "mouth_right", "left_shoulder",   "right_shoulder",  "left_elbow",     "right_elbow",
      "left_wrist",  "right_wrist",     "left_pinky",      "right_pinky",    "left_index",
      "right_index", "left_thumb",      "right_thumb",     "left_hip",       "right_hip",
      "left_knee",   "right_knee",      "left_ankle",      "right_ankle",    "left_heel",
      "right_heel",  "left_foot_index", "right_foot_index"};
  return names;
}

const Skeleton& PoseSkeleton() {
  static const Skeleton skeleton = SkeletonByName(
      PoseKeypointNames(), {{"nose", "left_eye_inner"},         {"left_eye_inner", "left_eye"},
                            {"left_eye", "left_eye_outer"},     {"left_eye_outer", "left_ear"},
                            {"nose", "right_eye_inner"},        {"right_eye_inner", "right_eye"},
                            {"right_eye", "right_eye_outer"},   {"right_eye_outer", "right_ear"},
                            {"mouth_left", "mouth_right"},      {"left_shoulder", "right_shoulder"},
                            {"left_shoulder", "left_elbow"},    {"left_elbow", "left_wrist"},
                            {"right_shoulder", "right_elbow"},  {"right_elbow", "right_wrist"},
                            {"left_wrist", "left_pinky"},       {"left_wrist", "left_index"},
                            {"left_wrist", "left_thumb"},       {"left_pinky", "left_index"},
                            {"right_wrist", "right_pinky"},     {"right_wrist", "right_index"},
                            {"right_wrist", "right_thumb"},     {"right_pinky", "right_index"},
                            {"left_shoulder", "left_hip"},      {"right_shoulder", "right_hip"},
                            {"left_hip", "right_hip"},          {"left_hip", "left_knee"},
                            {"left_knee", "left_ankle"},        {"right_hip", "right_knee"},
                            {"right_knee", "right_ankle"},      {"left_ankle", "left_heel"},
                            {"left_heel", "left_foot_index"},   {"left_ankle", "left_foot_index"},
                            {"right_ankle", "right_heel"},      {"right_heel", "right_foot_index"},
                            {"right_ankle", "right_foot_index"}});
  return skeleton;
}

ModelSpec PoseLiteSpec() {
  ModelSpec spec =
      MakeSpec("pose-lite", "pose/pose_landmark_lite.onnx",
               "MediaPipe Pose lite (256x256) on SSD person boxes: 33 body keypoints per "
               "person, up to 4 people");
  spec.accuracy =
      "astronaut.png: 1 person (presence 0.996, nose visibility 1.00), "
      "nose and eyes inside her face box, shoulders >= 50 px below the nose; 0 people on coffee, "
      "page, chelsea (pose_hand_test.cc)";
  return spec;
}

ModelSpec PoseFullSpec() {
  ModelSpec spec =
      MakeSpec("pose-full", "pose/pose_landmark_full.onnx",
               "MediaPipe Pose full (256x256) on SSD person boxes: 33 body keypoints per "
               "person, up to 4 people");
  spec.accuracy =
      "astronaut.png: 1 person (presence 0.94), "
      "nose and eyes inside her face box, shoulders >= 50 px below the nose; 0 people on coffee, "
      "page, chelsea (pose_hand_test.cc)";
  return spec;
}

ModelSpec PoseHeavySpec() {
  ModelSpec spec =
      MakeSpec("pose-heavy", "pose/pose_landmark_heavy.onnx",
               "MediaPipe Pose heavy (256x256) on SSD person boxes: 33 body keypoints per "
               "person, up to 4 people");
  spec.accuracy =
      "astronaut.png: 1 person (presence 1.00), "
      "nose and eyes inside her face box, shoulders >= 50 px below the nose; 0 people on coffee, "
      "page, chelsea (pose_hand_test.cc)";
  return spec;
}

}  // namespace heteroaccel::inference

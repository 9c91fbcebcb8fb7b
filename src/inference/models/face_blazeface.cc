#include "inference/models/face_blazeface.h"

#include <cmath>

#include "common/status_macros.h"
#include "inference/anchors.h"
#include "inference/dnn_runner.h"
#include "inference/image.h"

namespace heteroaccel::inference {
namespace {

const std::vector<std::string>& KeypointNames() {
  static const std::vector<std::string> names = {
      "right_eye", "left_eye", "nose_tip", "mouth", "right_ear_tragion", "left_ear_tragion"};
  return names;
}

struct Config {
  int input_size;
  std::vector<int> strides;
  float min_scale;
  float max_scale;
  float default_threshold;
};

// Both variants have 896 anchors: a 16x16 map with 2 anchors per cell followed by
// an 8x8 map with 6 (MediaPipe's face_detection_{short,full}_range graphs).
AnchorOptions Anchors(const Config& c) {
  AnchorOptions o;
  o.input_width = o.input_height = c.input_size;
  o.num_layers = 4;
  o.min_scale = c.min_scale;
  o.max_scale = c.max_scale;
  o.strides = c.strides;
  o.aspect_ratios = {1.0f};
  o.fixed_anchor_size = true;
  return o;
}

class BlazeFace final : public Model {
 public:
  BlazeFace(const Config& config, std::unique_ptr<DnnRunner> runner, float threshold)
      : config_(config),
        anchors_(GenerateAnchors(Anchors(config))),
        runner_(std::move(runner)),
        threshold_(threshold) {}

  absl::StatusOr<InferenceOutput> Run(const cv::Mat& bgr) override {
    BlobOptions blob_options{config_.input_size, config_.input_size, Fit::kLetterbox, -1, 1, true};
    Placement placement;
    const cv::Mat blob = MakeNhwcBlob(bgr, blob_options, &placement);
    ASSIGN_OR_RETURN(std::vector<cv::Mat> out, runner_->Forward(blob));
    std::vector<Detection> candidates;
    Decode(out[0], out[2], 0, placement, candidates);
    Decode(out[1], out[3], out[0].total(), placement, candidates);
    InferenceOutput result{WeightedNonMaxSuppression(std::move(candidates), 0.3f, 100), bgr.cols,
                           bgr.rows};
    for (Detection& d : result.detections) ClampToImage(d, bgr.cols, bgr.rows);
    return result;
  }

  absl::Status ForwardOnly() override { return runner_->ForwardAgain(); }

 private:
  // scores: [1,N,1] logits; boxes: [1,N,16] = x,y,w,h + 6 keypoints (x,y).
  void Decode(const cv::Mat& scores, const cv::Mat& boxes, size_t anchor_base,
              const Placement& placement, std::vector<Detection>& out) const {
    DecodeAnchorBoxes(scores.ptr<float>(), boxes.ptr<float>(), scores.total(), 16, anchors_,
                      anchor_base,
                      {static_cast<float>(config_.input_size), threshold_, "face", KeypointNames()},
                      placement, out);
  }

  Config config_;
  std::vector<Anchor> anchors_;
  std::unique_ptr<DnnRunner> runner_;
  float threshold_;
};

ModelSpec MakeSpec(std::string variant, std::string file, Config config, std::string what,
                   std::string accuracy) {
  ModelSpec spec;
  spec.accuracy = std::move(accuracy);
  spec.type = "face";
  spec.variant = std::move(variant);
  spec.description = std::move(what);
  spec.model_files = {file};
  spec.labels = {"face"};
  spec.keypoint_names = KeypointNames();
  spec.create = [file,
                 config](const ModelOptions& options) -> absl::StatusOr<std::unique_ptr<Model>> {
    ASSIGN_OR_RETURN(std::string path, ModelPath(options, file));
    ASSIGN_OR_RETURN(auto runner, DnnRunner::Create(path, options.target,
                                                    {"Identity:0", "Identity_1:0", "Identity_2:0",
                                                     "Identity_3:0"}));
    const float threshold =
        options.score_threshold >= 0 ? options.score_threshold : config.default_threshold;
    return std::make_unique<BlazeFace>(config, std::move(runner), threshold);
  };
  return spec;
}

}  // namespace

ModelSpec BlazeFaceFront128Spec() {
  return MakeSpec("blazeface-front-128", "face/blazeface_front_128.onnx",
                  {128, {8, 16, 16, 16}, 0.1484375f, 0.75f, 0.5f},
                  "BlazeFace short-range (front camera), 128x128, faces within ~2 m",
                  "astronaut.png: exactly 1 face (score 0.92) on her face, eyes/nose/mouth inside "
                  "the box; coffee.png: 0 faces (models_test.cc)");
}

ModelSpec BlazeFaceBack256Spec() {
  return MakeSpec("blazeface-back-256", "face/blazeface_back_256.onnx",
                  {256, {16, 32, 32, 32}, 0.15625f, 0.75f, 0.75f},
                  "BlazeFace back camera, 256x256, smaller and more distant faces (score threshold "
                  "0.75: at 0.5 it fires on textured objects)",
                  "astronaut.png: exactly 1 face on her face, eyes/nose/mouth inside the box; "
                  "coffee.png: 0 faces (models_test.cc)");
}

}  // namespace heteroaccel::inference

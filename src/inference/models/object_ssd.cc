#include "inference/models/object_ssd.h"

#include <cmath>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "inference/anchors.h"
#include "inference/dnn_runner.h"
#include "inference/image.h"

namespace heteroaccel::inference {
namespace {

constexpr int kInputSize = 300;
constexpr char kModelFile[] = "object/ssd_mobilenetv2_oidv4.onnx";
constexpr char kLabelFile[] = "object/labels.txt";

// The TensorFlow Object Detection API's SSD anchors for a 300x300 input, as
// MediaPipe's ssd_mobilenetv2 graph configures them: 19,10,5,3,2,1 feature maps,
// 3 anchors per cell on the first and 6 on the others (1917 in all).
AnchorOptions Anchors() {
  AnchorOptions o;
  o.input_width = o.input_height = kInputSize;
  o.num_layers = 6;
  o.min_scale = 0.2f;
  o.max_scale = 0.95f;
  o.strides = {16, 32, 64, 128, 256, 512};
  o.aspect_ratios = {1.0f, 2.0f, 0.5f, 3.0f, 0.3333f};
  o.reduce_boxes_in_lowest_layer = true;
  return o;
}

absl::StatusOr<std::vector<std::string>> ReadLabels(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::FailedPreconditionError(absl::StrCat("cannot read labels ", path));
  std::vector<std::string> labels;
  for (std::string line; std::getline(in, line);) labels.push_back(line);
  return labels;
}

class SsdMobileNetV2 final : public Model {
 public:
  SsdMobileNetV2(std::unique_ptr<DnnRunner> runner, std::vector<std::string> labels,
                 float threshold)
      : anchors_(GenerateAnchors(Anchors())),
        runner_(std::move(runner)),
        labels_(std::move(labels)),
        threshold_(threshold) {}

  absl::StatusOr<InferenceOutput> Run(const cv::Mat& bgr) override {
    Placement placement;
    const cv::Mat blob =
        MakeNhwcBlob(bgr, {kInputSize, kInputSize, Fit::kStretch, -1, 1, true}, &placement);
    ASSIGN_OR_RETURN(std::vector<cv::Mat> out, runner_->Forward(blob));
    if (out.size() != 2) return absl::InternalError("SSD model must have two outputs");
    // Tell the outputs apart by their last dimension: 4 box codes vs class logits.
    const bool boxes_first = out[0].size[out[0].dims - 1] == 4;
    const cv::Mat& boxes = boxes_first ? out[0] : out[1];
    const cv::Mat& logits = boxes_first ? out[1] : out[0];
    const int classes = logits.size[logits.dims - 1];
    const size_t n = std::min(anchors_.size(), boxes.total() / 4);
    std::vector<Detection> candidates;
    for (size_t i = 0; i < n; ++i) {
      const float* row = logits.ptr<float>() + i * classes;
      // Class 0 is the background class.
      int best = 1;
      for (int c = 2; c < classes; ++c) {
        if (row[c] > row[best]) best = c;
      }
      const float score = Sigmoid(row[best]);
      if (score < threshold_) continue;
      candidates.push_back(DecodeBox(boxes.ptr<float>() + i * 4, anchors_[i], placement));
      candidates.back().score = score;
      candidates.back().class_id = best;
      candidates.back().label =
          best < static_cast<int>(labels_.size()) ? labels_[best] : absl::StrCat("class_", best);
    }
    InferenceOutput result{NonMaxSuppression(std::move(candidates), 0.5f, 100), bgr.cols, bgr.rows};
    for (Detection& d : result.detections) ClampToImage(d, bgr.cols, bgr.rows);
    return result;
  }

  absl::Status ForwardOnly() override { return runner_->ForwardAgain(); }

 private:
  // Box codes are (y, x, h, w) scaled by (10, 10, 5, 5) relative to the anchor.
  static Detection DecodeBox(const float* code, const Anchor& a, const Placement& placement) {
    const float cy = code[0] / 10.0f * a.height + a.y_center;
    const float cx = code[1] / 10.0f * a.width + a.x_center;
    const float h = std::exp(code[2] / 5.0f) * a.height;
    const float w = std::exp(code[3] / 5.0f) * a.width;
    Detection d;
    d.box = {placement.ImageX(cx - w / 2), placement.ImageY(cy - h / 2),
             placement.ImageX(cx + w / 2), placement.ImageY(cy + h / 2)};
    return d;
  }

  std::vector<Anchor> anchors_;
  std::unique_ptr<DnnRunner> runner_;
  std::vector<std::string> labels_;
  float threshold_;
};

}  // namespace

ModelSpec SsdMobileNetV2Spec() {
  ModelSpec spec;
  spec.type = "object";
  spec.variant = "ssd-mobilenetv2-oidv4";
  spec.description = "SSD MobileNetV2, 300x300, 24 Open Images classes (Person, Car, Cat, ...)";
  spec.accuracy =
      "astronaut.png: Person (score 0.58) covering her, no false class; chelsea.png: Cat first "
      "(0.85), no Person (models_test.cc)";
  spec.precision = "fp32 (from fp16 weights)";
  spec.model_files = {kModelFile, kLabelFile};
  spec.create = [](const ModelOptions& options) -> absl::StatusOr<std::unique_ptr<Model>> {
    ASSIGN_OR_RETURN(std::string path, ModelPath(options, kModelFile));
    ASSIGN_OR_RETURN(std::string label_path, ModelPath(options, kLabelFile));
    ASSIGN_OR_RETURN(std::vector<std::string> labels, ReadLabels(label_path));
    ASSIGN_OR_RETURN(auto runner, DnnRunner::Create(path, options.target, {}));
    const float threshold = options.score_threshold >= 0 ? options.score_threshold : 0.5f;
    return std::make_unique<SsdMobileNetV2>(std::move(runner), std::move(labels), threshold);
  };
  return spec;
}

}  // namespace heteroaccel::inference

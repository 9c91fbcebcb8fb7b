// Model: one inference type's variant, ready to run on one compute target.
//
// A Model owns its network (cv::dnn::Net is not thread-safe), so each device slot
// creates its own instance through the ModelSpec's factory and uses it from that
// slot's thread only. Pre-processing (resize, normalise) and post-processing
// (anchor decoding, NMS, mapping back to image pixels) are part of the model.
#pragma once

#include <functional>
#include <memory>
#include <opencv2/core.hpp>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "inference/detection.h"

namespace heteroaccel::inference {

// Where a model runs. OpenCL is whatever device OpenCV's OpenCL context selected
// (a real GPU where a vendor driver is installed, PoCL's CPU device otherwise).
enum class Target { kCpu, kOpenCl };
std::string_view TargetName(Target target);  // "cpu", "opencl"

struct ModelOptions {
  std::string models_dir;  // the folder `make setup` fills
  Target target = Target::kCpu;
  float score_threshold = -1;  // < 0: the variant's default
  // Files read from elsewhere than models_dir: a spec's relative file name -> the path to
  // read instead (a model version deployed from the server's repository).
  std::map<std::string, std::string> files;
};

struct InferenceOutput {
  std::vector<Detection> detections;
  int image_width = 0;
  int image_height = 0;
};

class Model {
 public:
  virtual ~Model() = default;
  // `bgr` is any size; results are in its pixel coordinates.
  virtual absl::StatusOr<InferenceOutput> Run(const cv::Mat& bgr) = 0;
  // Re-runs every forward pass of the last Run (each network, once per region
  // it ran on) on the same prepared inputs and nothing else, for measuring the
  // framework's own overhead (pre/post-processing) against the raw networks.
  // An error before the first Run.
  virtual absl::Status ForwardOnly() = 0;
};

// A variant of an inference type: what it is, and how to build it.
struct ModelSpec {
  std::string type;     // the inference type clients name: "face", "object", ...
  std::string variant;  // "blazeface-front-128"
  std::string description;
  std::string precision = "fp32";
  std::vector<std::string> model_files;     // relative to models_dir
  std::vector<std::string> labels;          // class names, in class_id order
  std::vector<std::string> keypoint_names;  // per detection, empty when none
  Skeleton skeleton;                        // keypoints joined when drawn; may be empty
  bool opencl = true;  // false: a CPU-only variant (not built for OpenCL slots)
  // What the accuracy tests (src/inference/*_test.cc) measure and enforce on the
  // test set, in words: "astronaut.png: 1/1 face, IoU 0.8".
  std::string accuracy;
  std::function<absl::StatusOr<std::unique_ptr<Model>>(const ModelOptions&)> create;
};

}  // namespace heteroaccel::inference

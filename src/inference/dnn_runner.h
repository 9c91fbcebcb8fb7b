// DnnRunner: a cv::dnn::Net loaded from an ONNX file for one target, with OpenCV's
// exceptions turned into Status values at this boundary.
//
// Not thread-safe: owned by one Model, used by one slot thread.
#pragma once

#include <memory>
#include <opencv2/dnn.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "inference/model.h"

namespace heteroaccel::inference {

class DnnRunner {
 public:
  // `reload_on_new_shape`: rebuild the network whenever an input's shape differs
  // from the previous one. For networks whose layers OpenCV 4.6 cannot reshape
  // correctly on a target (PP-OCR's detector on OpenCL keeps state from the
  // first input's size); costs one model load per change of size.
  static absl::StatusOr<std::unique_ptr<DnnRunner>> Create(const std::string& onnx_path,
                                                           Target target,
                                                           std::vector<std::string> outputs,
                                                           bool reload_on_new_shape = false);
  // Runs the network; returns the outputs in the order given to Create (all the
  // network's outputs, in its own order, when none were given).
  absl::StatusOr<std::vector<cv::Mat>> Forward(const cv::Mat& blob);
  // Re-runs the last input (for overhead measurement).
  absl::Status ForwardAgain();

 private:
  DnnRunner(cv::dnn::Net net, std::vector<std::string> outputs)
      : net_(std::move(net)), outputs_(std::move(outputs)) {}
  cv::dnn::Net net_;
  std::vector<std::string> outputs_;
  std::vector<cv::Mat> results_;
  std::vector<uchar> onnx_;  // the model's bytes, kept when it is rebuilt on a new shape
  std::string path_;
  Target target_ = Target::kCpu;
  std::vector<int> last_shape_;
};

// Joins models_dir and a relative file (or takes the path options.files gives for it),
// checking that the file exists; the error tells the user to run `make setup`.
absl::StatusOr<std::string> ModelPath(const ModelOptions& options, const std::string& file);

}  // namespace heteroaccel::inference

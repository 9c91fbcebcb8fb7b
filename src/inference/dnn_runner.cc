#include "inference/dnn_runner.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace heteroaccel::inference {

std::string_view TargetName(Target target) { return target == Target::kOpenCl ? "opencl" : "cpu"; }

absl::StatusOr<std::string> ModelPath(const ModelOptions& options, const std::string& file) {
  auto it = options.files.find(file);
  std::filesystem::path path =
      it != options.files.end() ? std::filesystem::path(it->second)
                                : std::filesystem::path(options.models_dir) / file;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    if (it != options.files.end()) {
      return absl::FailedPreconditionError(
          absl::StrCat("model file ", path.string(), " (deployed in place of ", file, ") is missing"));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "model file ", path.string(), " is missing; run `make setup` to fetch the models"));
  }
  return path.string();
}

namespace {

// `onnx` holds the model file's bytes; `path` names it in errors.
absl::StatusOr<cv::dnn::Net> LoadNet(const std::vector<uchar>& onnx, const std::string& path,
                                     Target target) {
  try {
    cv::dnn::Net net = cv::dnn::readNetFromONNX(onnx);
    if (net.empty())
      return absl::InvalidArgumentError(absl::StrCat("OpenCV could not load ", path));
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(target == Target::kOpenCl ? cv::dnn::DNN_TARGET_OPENCL
                                                      : cv::dnn::DNN_TARGET_CPU);
    return net;
  } catch (const cv::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("OpenCV could not load ", path, ": ", e.what()));
  }
}

// One read of the whole file into a buffer of its size (a model is up to tens
// of megabytes: read through a stream iterator, byte by byte into a growing
// vector, it took a third of an agent's start-up).
absl::StatusOr<std::vector<uchar>> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::error_code error;
  const uintmax_t size = std::filesystem::file_size(path, error);
  if (!in || error) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::vector<uchar> bytes(static_cast<size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (static_cast<uintmax_t>(in.gcount()) != size || in.peek() != std::char_traits<char>::eof()) {
    return absl::UnavailableError(absl::StrCat(path, " changed while it was read; try again"));
  }
  return bytes;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DnnRunner>> DnnRunner::Create(const std::string& onnx_path,
                                                             Target target,
                                                             std::vector<std::string> outputs,
                                                             bool reload_on_new_shape) {
  ASSIGN_OR_RETURN(std::vector<uchar> onnx, ReadFile(onnx_path));
  ASSIGN_OR_RETURN(cv::dnn::Net net, LoadNet(onnx, onnx_path, target));
  if (outputs.empty()) outputs = net.getUnconnectedOutLayersNames();
  auto runner = std::unique_ptr<DnnRunner>(new DnnRunner(std::move(net), std::move(outputs)));
  if (reload_on_new_shape) {
    // Kept so that a rebuild reads no file.
    runner->onnx_ = std::move(onnx);
    runner->path_ = onnx_path;
    runner->target_ = target;
  }
  return runner;
}

absl::StatusOr<std::vector<cv::Mat>> DnnRunner::Forward(const cv::Mat& blob) {
  const std::vector<int> shape(blob.size.p, blob.size.p + blob.dims);
  if (!onnx_.empty() && !last_shape_.empty() && shape != last_shape_) {
    ASSIGN_OR_RETURN(net_, LoadNet(onnx_, path_, target_));
  }
  last_shape_ = shape;
  try {
    net_.setInput(blob);
    net_.forward(results_, outputs_);
    return results_;
  } catch (const cv::Exception& e) {
    return absl::InternalError(absl::StrCat("forward pass failed: ", e.what()));
  }
}

absl::Status DnnRunner::ForwardAgain() {
  try {
    net_.forward(results_, outputs_);
    return absl::OkStatus();
  } catch (const cv::Exception& e) {
    return absl::InternalError(absl::StrCat("forward pass failed: ", e.what()));
  }
}

}  // namespace heteroaccel::inference

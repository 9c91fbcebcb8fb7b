// OpenCL for OpenCV dnn: OpenCV drives one OpenCL device per process, chosen by
// the OPENCV_OPENCL_DEVICE environment variable before first use. This picks a
// device (a GPU when there is one, otherwise a CPU device such as PoCL's, which
// OpenCV's dnn only accepts with OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES=1) and
// reports which one it is, so the agent can tie it to a probed device.
//
// Call InitOpenCl() once, before any model is created; not thread-safe.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace heteroaccel::inference {

struct OpenClDeviceInfo {
  std::string name;
  std::string vendor;
  std::string platform;
  std::string type;  // "gpu", "cpu", "accelerator"
  std::string version;
};

// `prefer` is an OPENCV_OPENCL_DEVICE selector ("" = GPU first, then CPU). An
// explicit OPENCV_OPENCL_DEVICE in the environment wins. Unavailable when no
// OpenCL device can be used (the agent then runs without one).
absl::StatusOr<OpenClDeviceInfo> InitOpenCl(const std::string& prefer = "");

}  // namespace heteroaccel::inference

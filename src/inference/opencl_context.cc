#include "inference/opencl_context.h"

#include <cstdlib>
#include <opencv2/core/ocl.hpp>

#include "absl/strings/str_cat.h"

namespace heteroaccel::inference {
namespace {

std::string TypeName(int type) {
  if (type & cv::ocl::Device::TYPE_GPU) return "gpu";
  if (type & cv::ocl::Device::TYPE_ACCELERATOR) return "accelerator";
  if (type & cv::ocl::Device::TYPE_CPU) return "cpu";
  return "other";
}

// Any platform offers a GPU device?
bool HaveOpenClGpu() {
  std::vector<cv::ocl::PlatformInfo> platforms;
  cv::ocl::getPlatfomsInfo(platforms);
  for (const auto& platform : platforms) {
    for (int i = 0; i < platform.deviceNumber(); ++i) {
      cv::ocl::Device device;
      platform.getDevice(device, i);
      if (device.type() & cv::ocl::Device::TYPE_GPU) return true;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<OpenClDeviceInfo> InitOpenCl(const std::string& prefer) {
  try {
    if (std::getenv("OPENCV_OPENCL_DEVICE") == nullptr) {
      const std::string selector = !prefer.empty() ? prefer : HaveOpenClGpu() ? ":GPU:" : ":CPU:";
      setenv("OPENCV_OPENCL_DEVICE", selector.c_str(), 1);
    }
    // OpenCV's dnn refuses non-GPU OpenCL devices unless told otherwise.
    setenv("OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES", "1", 0);
    if (!cv::ocl::haveOpenCL()) {
      return absl::UnavailableError(
          "no OpenCL platform (install an OpenCL ICD, e.g. pocl-opencl-icd)");
    }
    const cv::ocl::Device& device = cv::ocl::Device::getDefault();
    if (!device.available()) {
      return absl::UnavailableError(absl::StrCat("OpenCV found no usable OpenCL device for '",
                                                 std::getenv("OPENCV_OPENCL_DEVICE"), "'"));
    }
    return OpenClDeviceInfo{device.name(), device.vendorName(), "", TypeName(device.type()),
                            device.OpenCLVersion()};
  } catch (const cv::Exception& e) {
    return absl::UnavailableError(absl::StrCat("OpenCL initialisation failed: ", e.what()));
  }
}

}  // namespace heteroaccel::inference

// Loads an ONNX model with OpenCV's dnn module (cv::dnn::readNetFromONNX),
// runs it once on a given input and writes every requested output as raw
// little-endian float32. Used by tools/models/test_tflite2onnx.py to check
// that converted models load and compute in OpenCV 4.6.
//
// Build: g++ -std=c++17 -O2 check_onnx_opencv.cc -o check_onnx_opencv \
//            $(pkg-config --cflags --libs opencv4)
//
// Usage:
//   check_onnx_opencv MODEL.onnx --shape 1,H,W,C
//       [--input FILE.f32]                 raw float32 tensor of that shape
//       [--image FILE --norm m11|01]       image → RGB, resized to H×W
//                                          (bilinear), NHWC, scaled to
//                                          [-1,1] (m11) or [0,1] (01)
//       [--outputs NAME,NAME,...]          outputs to fetch (default: the
//                                          net's unconnected outputs)
//       [--out DIR]                        writes DIR/<i>.f32 per output
//       [--save-input FILE]                writes the input tensor (float32)
//       [--bench N] [--threads T]          time N forward passes
//
// Prints one line per output: "output <i> <name> <d0>x<d1>x...".
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) {
    if (!item.empty()) parts.push_back(item);
  }
  return parts;
}

int Fail(const std::string& msg) {
  std::cerr << "check_onnx_opencv: " << msg << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    return Fail("usage: check_onnx_opencv MODEL.onnx --shape 1,H,W,C "
                "[--input F | --image F --norm m11|01] [--outputs A,B] "
                "[--out DIR] [--bench N] [--threads T]");
  }
  cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
  std::string model = argv[1];
  std::string shape_arg, input_file, image_file, norm = "m11", outputs_arg,
      out_dir, save_input;
  int bench = 0, threads = -1;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "missing value for " << a << "\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--shape") shape_arg = next();
    else if (a == "--input") input_file = next();
    else if (a == "--image") image_file = next();
    else if (a == "--norm") norm = next();
    else if (a == "--outputs") outputs_arg = next();
    else if (a == "--out") out_dir = next();
    else if (a == "--save-input") save_input = next();
    else if (a == "--bench") bench = std::stoi(next());
    else if (a == "--threads") threads = std::stoi(next());
    else return Fail("unknown argument " + a);
  }
  if (threads > 0) cv::setNumThreads(threads);

  std::vector<int> shape;
  for (const auto& d : Split(shape_arg, ',')) shape.push_back(std::stoi(d));
  if (shape.size() != 4) return Fail("--shape needs 4 dimensions (NHWC)");

  cv::dnn::Net net;
  try {
    net = cv::dnn::readNetFromONNX(model);
  } catch (const cv::Exception& e) {
    return Fail(std::string("readNetFromONNX failed: ") + e.what());
  }
  net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);

  cv::Mat input(static_cast<int>(shape.size()), shape.data(), CV_32F);
  const size_t count = input.total();
  if (!input_file.empty()) {
    std::ifstream f(input_file, std::ios::binary);
    if (!f) return Fail("cannot open " + input_file);
    f.read(reinterpret_cast<char*>(input.ptr<float>()), count * sizeof(float));
    if (static_cast<size_t>(f.gcount()) != count * sizeof(float)) {
      return Fail("input file too short: " + input_file);
    }
  } else if (!image_file.empty()) {
    cv::Mat bgr = cv::imread(image_file, cv::IMREAD_COLOR);
    if (bgr.empty()) return Fail("cannot read image " + image_file);
    cv::Mat rgb, resized, f32;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    cv::resize(rgb, resized, cv::Size(shape[2], shape[1]), 0, 0,
               cv::INTER_LINEAR);
    if (norm == "m11") {
      resized.convertTo(f32, CV_32F, 1.0 / 127.5, -1.0);
    } else if (norm == "01") {
      resized.convertTo(f32, CV_32F, 1.0 / 255.0);
    } else {
      return Fail("--norm must be m11 or 01");
    }
    if (shape[3] != 3) return Fail("--image needs 3 channels");
    std::copy(f32.ptr<float>(), f32.ptr<float>() + count, input.ptr<float>());
  } else {
    cv::RNG rng(12345);
    rng.fill(input, cv::RNG::UNIFORM, -1.0, 1.0);
  }

  if (!save_input.empty()) {
    std::ofstream f(save_input, std::ios::binary);
    f.write(reinterpret_cast<const char*>(input.ptr<float>()),
            count * sizeof(float));
  }

  std::vector<std::string> names = Split(outputs_arg, ',');
  if (names.empty()) {
    for (const auto& n : net.getUnconnectedOutLayersNames()) names.push_back(n);
  }

  std::vector<cv::Mat> outs;
  try {
    net.setInput(input);
    net.forward(outs, names);
  } catch (const cv::Exception& e) {
    return Fail(std::string("forward failed: ") + e.what());
  }
  for (size_t i = 0; i < outs.size(); ++i) {
    const cv::Mat& m = outs[i];
    std::cout << "output " << i << " " << names[i] << " ";
    for (int d = 0; d < m.dims; ++d) std::cout << (d ? "x" : "") << m.size[d];
    std::cout << "\n";
    if (!out_dir.empty()) {
      cv::Mat c = m.isContinuous() ? m : m.clone();
      std::ofstream f(out_dir + "/" + std::to_string(i) + ".f32",
                      std::ios::binary);
      f.write(reinterpret_cast<const char*>(c.ptr<float>()),
              c.total() * sizeof(float));
    }
  }
  if (bench > 0) {
    std::vector<double> ms;
    for (int r = 0; r < bench; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      net.setInput(input);
      net.forward(outs, names);
      auto t1 = std::chrono::steady_clock::now();
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    std::printf("bench runs=%d threads=%d median_ms=%.2f min_ms=%.2f\n", bench,
                cv::getNumThreads(), ms[ms.size() / 2], ms.front());
  }
  return 0;
}

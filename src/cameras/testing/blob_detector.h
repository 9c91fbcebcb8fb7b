// Test helpers for camera pipelines without a cluster: a short synthetic clip
// (a bright box walking down a dark frame, written with cv::VideoWriter) and
// BlobBackend, an InferenceBackend that really decodes each JPEG and reports
// the bright blobs as "person" detections (with two keypoints for `pose`), answering from its own
// threads after a random delay (so answers arrive out of order) and failing every `fail_every`-th
// call with DeadlineExceeded.
//
// Header-only; for tests. Thread-safe.
#pragma once

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cameras/inference_backend.h"

namespace heteroaccel::cameras::testing {

// Writes `frames` frames of 320x240 at 10 fps: a 40x60 white box from y=20
// moving down 5 px a frame at x=140. Returns false when OpenCV cannot write.
inline bool WriteWalkingClip(const std::string& path, int frames) {
  cv::VideoWriter writer(path, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10, cv::Size(320, 240));
  if (!writer.isOpened()) return false;
  for (int i = 0; i < frames; ++i) {
    cv::Mat frame(240, 320, CV_8UC3, cv::Scalar(20, 20, 20));
    const int y = 20 + 5 * i;
    cv::rectangle(frame, cv::Rect(140, y, 40, 60), cv::Scalar(255, 255, 255), cv::FILLED);
    writer.write(frame);
  }
  return true;
}

class BlobBackend : public InferenceBackend {
 public:
  explicit BlobBackend(int fail_every = 0, int max_delay_ms = 20)
      : fail_every_(fail_every), max_delay_ms_(max_delay_ms) {
    for (int i = 0; i < 3; ++i) workers_.emplace_back([this, i] { Work(i); });
  }
  ~BlobBackend() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  void Infer(InferCall call, InferDoneFn done) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    queue_.push_back({std::move(call), std::move(done), calls_});
    cv_.notify_one();
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  struct Item {
    InferCall call;
    InferDoneFn done;
    int n = 0;
  };

  void Work(int seed) {
    std::mt19937 rng(static_cast<unsigned>(seed + 1));
    while (true) {
      Item item;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        item = std::move(queue_.front());
        queue_.pop_front();
      }
      if (max_delay_ms_ > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(rng() % max_delay_ms_));
      }
      if (fail_every_ > 0 && item.n % fail_every_ == 0) {
        item.done(absl::DeadlineExceededError("no device could finish in time"));
        continue;
      }
      item.done(Detect(*item.call.jpeg, item.call.type));
    }
  }

  // `pose`: each blob also gets two keypoints (top and bottom centre).
  static absl::StatusOr<InferAnswer> Detect(const std::string& jpeg, const std::string& type) {
    cv::Mat image = cv::imdecode(
        cv::Mat(1, static_cast<int>(jpeg.size()), CV_8UC1, const_cast<char*>(jpeg.data())),
        cv::IMREAD_GRAYSCALE);
    if (image.empty()) return absl::InvalidArgumentError("not an image");
    cv::Mat mask;
    cv::threshold(image, mask, 128, 255, cv::THRESH_BINARY);
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(mask, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    InferAnswer answer;
    answer.width = image.cols;
    answer.height = image.rows;
    answer.provenance = {"test-node", "blob0", "blob", 1, 2};
    for (const auto& c : contours) {
      const cv::Rect r = cv::boundingRect(c);
      if (r.area() < 100) continue;
      pipeline::Detection d;
      d.box = {static_cast<float>(r.x), static_cast<float>(r.y), static_cast<float>(r.x + r.width),
               static_cast<float>(r.y + r.height)};
      d.score = 0.9F;
      d.label = "person";
      if (type == "pose") {
        const float cx = (d.box.x1 + d.box.x2) / 2;
        d.keypoints = {{"nose", {cx, d.box.y1}, 0.9F}, {"left_ankle", {cx, d.box.y2}, 0.9F}};
      }
      answer.detections.push_back(std::move(d));
    }
    return answer;
  }

  const int fail_every_;
  const int max_delay_ms_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stop_ = false;
  int calls_ = 0;
  std::vector<std::thread> workers_;
};

}  // namespace heteroaccel::cameras::testing

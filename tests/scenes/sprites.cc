#include "scenes/sprites.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "absl/status/status.h"

namespace heteroaccel::scenes {
namespace {

// Pedestrians of vtest.avi the object detector finds with a score >= 0.5 in
// their frame: (frame index, box x1, y1, x2, y2).
struct WalkerCut {
  int frame;
  cv::Rect box;
};
const WalkerCut kWalkerCuts[] = {
    {100, {584, 151, 34, 88}},  {100, {372, 184, 31, 83}},  {200, {218, 189, 37, 83}},
    {200, {612, 262, 39, 108}}, {200, {702, 252, 43, 101}}, {300, {311, 212, 38, 85}},
    {300, {179, 164, 33, 65}},
};

constexpr int kBackgroundStride = 10;  // every 10th frame votes for the median

cv::Mat MedianBackground(const std::vector<cv::Mat>& frames) {
  cv::Mat bg(frames[0].size(), CV_8UC3);
  std::vector<uchar> v(frames.size());
  const size_t mid = v.size() / 2;
  for (int y = 0; y < bg.rows; ++y) {
    for (int x = 0; x < bg.cols; ++x) {
      for (int c = 0; c < 3; ++c) {
        for (size_t k = 0; k < frames.size(); ++k) v[k] = frames[k].at<cv::Vec3b>(y, x)[c];
        std::nth_element(v.begin(), v.begin() + static_cast<long>(mid), v.end());
        bg.at<cv::Vec3b>(y, x)[c] = v[mid];
      }
    }
  }
  return bg;
}

// The largest blob differing from the background inside `box` (grown a little).
absl::StatusOr<Sprite> CutWalker(const cv::Mat& frame, const cv::Mat& bg, cv::Rect box, int n) {
  box = cv::Rect(box.x - 8, box.y - 8, box.width + 16, box.height + 16) &
        cv::Rect(0, 0, frame.cols, frame.rows);
  cv::Mat diff;
  cv::absdiff(frame(box), bg(box), diff);
  std::vector<cv::Mat> ch;
  cv::split(diff, ch);
  cv::Mat sum = ch[0] / 3 + ch[1] / 3 + ch[2] / 3;
  cv::Mat mask = sum > 18;
  cv::morphologyEx(mask, mask, cv::MORPH_OPEN,
                   cv::getStructuringElement(cv::MORPH_ELLIPSE, {3, 3}));
  cv::morphologyEx(mask, mask, cv::MORPH_CLOSE,
                   cv::getStructuringElement(cv::MORPH_ELLIPSE, {9, 9}));
  cv::Mat labels, stats, centroids;
  const int count = cv::connectedComponentsWithStats(mask, labels, stats, centroids, 8);
  int best = 0;
  for (int i = 1; i < count; ++i) {
    if (best == 0 || stats.at<int>(i, cv::CC_STAT_AREA) > stats.at<int>(best, cv::CC_STAT_AREA)) {
      best = i;
    }
  }
  if (best == 0)
    return absl::InternalError("no walker blob in vtest.avi's cut " + std::to_string(n));
  const cv::Rect r(stats.at<int>(best, cv::CC_STAT_LEFT), stats.at<int>(best, cv::CC_STAT_TOP),
                   stats.at<int>(best, cv::CC_STAT_WIDTH), stats.at<int>(best, cv::CC_STAT_HEIGHT));
  cv::Mat blob = labels(r) == best;
  Sprite s;
  s.name = "walker-" + std::to_string(n);
  s.label = "person";
  s.bgr = frame(box)(r).clone();
  s.alpha = blob.clone();
  return s;
}

Sprite RectSprite(std::string name, std::string label, const cv::Mat& image, cv::Rect r) {
  Sprite s;
  s.name = std::move(name);
  s.label = std::move(label);
  s.bgr = image(r & cv::Rect(0, 0, image.cols, image.rows)).clone();
  s.alpha = cv::Mat(s.bgr.size(), CV_8UC1, cv::Scalar(255));
  return s;
}

absl::StatusOr<cv::Mat> Read(const std::string& path) {
  cv::Mat m = cv::imread(path, cv::IMREAD_COLOR);
  if (m.empty()) return absl::NotFoundError(path + " is missing or unreadable; run `make setup`");
  return m;
}

}  // namespace

absl::StatusOr<SpriteLibrary> LoadSpriteLibrary(const std::string& models_dir) {
  const std::string video = models_dir + "/video/vtest.avi";
  cv::VideoCapture cap(video, cv::CAP_FFMPEG);
  if (!cap.isOpened()) return absl::NotFoundError(video + " is missing; run `make setup`");
  std::vector<cv::Mat> samples;
  std::map<int, cv::Mat> wanted;
  for (const WalkerCut& c : kWalkerCuts) wanted[c.frame];
  cv::Mat f;
  for (int i = 0; cap.read(f); ++i) {
    if (i % kBackgroundStride == 0) samples.push_back(f.clone());
    if (auto it = wanted.find(i); it != wanted.end()) it->second = f.clone();
  }
  for (const auto& [index, frame] : wanted) {
    if (frame.empty()) return absl::NotFoundError(video + " has no frame " + std::to_string(index));
  }
  if (samples.size() < 10) return absl::NotFoundError(video + " is too short");
  SpriteLibrary lib;
  lib.background = MedianBackground(samples);
  int n = 0;
  for (const WalkerCut& c : kWalkerCuts) {
    absl::StatusOr<Sprite> s = CutWalker(wanted[c.frame], lib.background, c.box, n++);
    if (!s.ok()) return s.status();
    lib.walkers.push_back(std::move(*s));
  }
  absl::StatusOr<cv::Mat> astronaut = Read(models_dir + "/images/astronaut.png");
  absl::StatusOr<cv::Mat> camera = Read(models_dir + "/images/camera.png");
  absl::StatusOr<cv::Mat> car = Read(models_dir + "/video/licenseplate_motion.jpg");
  absl::StatusOr<cv::Mat> coffee = Read(models_dir + "/images/coffee.png");
  for (const auto* m : {&astronaut, &camera, &car, &coffee}) {
    if (!m->ok()) return m->status();
  }
  // Boxes: where the object detector finds each one in its own image.
  lib.astronaut = RectSprite("astronaut", "person", *astronaut, {16, 15, 348, 495});
  lib.cameraman = RectSprite("cameraman", "person", *camera, {7, 48, 294, 462});
  lib.car = RectSprite("car", "car", *car, {2, 18, 593, 456});
  lib.cup = RectSprite("cup", "coffee cup", *coffee, {160, 10, 275, 330});
  return lib;
}

absl::StatusOr<const SpriteLibrary*> SharedSpriteLibrary(const std::string& models_dir) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<absl::StatusOr<SpriteLibrary>>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[models_dir];
  if (!slot) slot = std::make_unique<absl::StatusOr<SpriteLibrary>>(LoadSpriteLibrary(models_dir));
  if (!slot->ok()) return slot->status();
  return &**slot;
}

}  // namespace heteroaccel::scenes

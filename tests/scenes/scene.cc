#include "scenes/scene.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "absl/status/status.h"

namespace heteroaccel::scenes {
namespace {

struct Placed {
  const Actor* actor;
  Waypoint at;
  cv::Rect rect;  // where the scaled sprite lands (may leave the frame)
  cv::Mat bgr, alpha;
};

Placed Place(const Actor& a, const Waypoint& w) {
  Placed p{&a, w, {}, {}, {}};
  const cv::Size src = a.sprite.bgr.size();
  const int h = std::max(1, static_cast<int>(std::lround(w.height)));
  const int wd = std::max(1, static_cast<int>(std::lround(w.height * src.width / src.height)));
  const int interp = h < src.height ? cv::INTER_AREA : cv::INTER_LINEAR;
  cv::resize(a.sprite.bgr, p.bgr, {wd, h}, 0, 0, interp);
  cv::resize(a.sprite.alpha, p.alpha, {wd, h}, 0, 0, interp);
  p.rect = cv::Rect(static_cast<int>(std::lround(w.x - wd / 2.0)),
                    static_cast<int>(std::lround(w.y)) - h, wd, h);
  return p;
}

// Alpha-blends `p` into `frame`; marks its opaque pixels in `owner` with its index.
void Composite(const Placed& p, int index, cv::Mat& frame, cv::Mat& owner) {
  const cv::Rect dst = p.rect & cv::Rect(0, 0, frame.cols, frame.rows);
  if (dst.empty()) return;
  const cv::Rect src(dst.x - p.rect.x, dst.y - p.rect.y, dst.width, dst.height);
  for (int y = 0; y < dst.height; ++y) {
    const auto* s = p.bgr.ptr<cv::Vec3b>(src.y + y) + src.x;
    const uchar* al = p.alpha.ptr<uchar>(src.y + y) + src.x;
    auto* d = frame.ptr<cv::Vec3b>(dst.y + y) + dst.x;
    int* o = owner.ptr<int>(dst.y + y) + dst.x;
    for (int x = 0; x < dst.width; ++x) {
      const int a = al[x];
      if (a == 0) continue;
      for (int c = 0; c < 3; ++c)
        d[x][c] = static_cast<uchar>((s[x][c] * a + d[x][c] * (255 - a)) / 255);
      if (a >= 128) o[x] = index;
    }
  }
}

}  // namespace

int Scene::FrameCount() const { return static_cast<int>(std::floor(duration * fps + 1e-9)); }

bool ActorAt(const Actor& a, double t, Waypoint& out) {
  if (a.path.empty() || t < a.path.front().t || t > a.path.back().t) return false;
  for (size_t i = 0; i + 1 < a.path.size(); ++i) {
    const Waypoint& p = a.path[i];
    const Waypoint& q = a.path[i + 1];
    if (t > q.t) continue;
    const double span = q.t - p.t;
    const auto f = static_cast<float>(span > 0 ? (t - p.t) / span : 0);
    out = {t, p.x + (q.x - p.x) * f, p.y + (q.y - p.y) * f, p.height + (q.height - p.height) * f};
    return true;
  }
  out = a.path.back();
  out.t = t;
  return true;
}

cv::Mat RenderFrame(const Scene& scene, int index, GtFrame* gt) {
  const double t = scene.FrameTime(index);
  std::vector<Placed> placed;
  for (const Actor& a : scene.actors) {
    Waypoint w;
    if (ActorAt(a, t, w)) placed.push_back(Place(a, w));
  }
  // Far to near; ties by id so the order is total.
  std::stable_sort(placed.begin(), placed.end(), [](const Placed& l, const Placed& r) {
    return l.at.y != r.at.y ? l.at.y < r.at.y : l.actor->id < r.actor->id;
  });
  cv::Mat frame = scene.background.clone();
  cv::Mat owner(frame.size(), CV_32SC1, cv::Scalar(-1));
  for (size_t i = 0; i < placed.size(); ++i)
    Composite(placed[i], static_cast<int>(i), frame, owner);
  if (scene.noise_sigma > 0) {
    cv::RNG rng(scene.seed * 1000003ULL + static_cast<uint64_t>(index));
    cv::Mat noise(frame.size(), CV_16SC3);
    rng.fill(noise, cv::RNG::NORMAL, cv::Scalar::all(0), cv::Scalar::all(scene.noise_sigma));
    cv::Mat sum;
    cv::add(frame, noise, sum, cv::noArray(), CV_16SC3);
    sum.convertTo(frame, CV_8UC3);
  }
  if (gt != nullptr) {
    gt->index = index;
    gt->time = t;
    gt->boxes.clear();
    for (size_t i = 0; i < placed.size(); ++i) {
      const Placed& p = placed[i];
      cv::Mat opaque = p.alpha >= 128;
      cv::Rect ob = cv::boundingRect(opaque);
      ob.x += p.rect.x;
      ob.y += p.rect.y;
      const cv::Rect vis = ob & cv::Rect(0, 0, frame.cols, frame.rows);
      if (vis.empty()) continue;
      const int total = cv::countNonZero(opaque);
      const int shown = cv::countNonZero(owner == static_cast<int>(i));
      gt->boxes.push_back(
          {p.actor->id,
           p.actor->sprite.label,
           {static_cast<float>(vis.x), static_cast<float>(vis.y),
            static_cast<float>(vis.x + vis.width), static_cast<float>(vis.y + vis.height)},
           total > 0 ? static_cast<float>(shown) / total : 0.F});
    }
    std::sort(gt->boxes.begin(), gt->boxes.end(),
              [](const GtBox& l, const GtBox& r) { return l.actor < r.actor; });
  }
  return frame;
}

absl::StatusOr<std::vector<GtFrame>> RenderToFile(const Scene& scene, const std::string& path) {
  // MJPG at OpenCV's FFmpeg default quality (about 95).
  cv::VideoWriter writer;
  if (!writer.open(path, cv::CAP_FFMPEG, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), scene.fps,
                   scene.background.size())) {
    return absl::InternalError("cannot write the scene video " + path);
  }
  std::vector<GtFrame> truth(static_cast<size_t>(scene.FrameCount()));
  for (int i = 0; i < scene.FrameCount(); ++i) {
    writer.write(RenderFrame(scene, i, &truth[static_cast<size_t>(i)]));
  }
  writer.release();
  return truth;
}

}  // namespace heteroaccel::scenes

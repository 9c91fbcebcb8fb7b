#include "scenes/in_process.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <variant>

#include "absl/status/status.h"
#include "pipeline/rules/rules.h"
#include "pipeline/tracking/tracker.h"

namespace heteroaccel::scenes {
namespace {

using pipeline::BlockSpec;
using pipeline::BlockType;
using pipeline::FrameResult;

bool InZone(const pipeline::Zone& zone, pipeline::Point p) {
  std::vector<cv::Point2f> poly;
  poly.reserve(zone.polygon.size());
  for (const pipeline::Point& q : zone.polygon) poly.emplace_back(q.x, q.y);
  return cv::pointPolygonTest(poly, cv::Point2f(p.x, p.y), false) >= 0;
}

FrameResult Filter(const pipeline::CameraSpec& camera, const pipeline::FilterParams& f,
                   const FrameResult& in) {
  FrameResult out = in;
  out.detections.clear();
  for (const pipeline::Detection& d : in.detections) {
    if (!f.classes.empty() &&
        std::find(f.classes.begin(), f.classes.end(), d.label) == f.classes.end()) {
      continue;
    }
    if (d.score < f.min_score) continue;
    if (f.min_area && d.box.Area() < *f.min_area) continue;
    if (f.max_area && d.box.Area() > *f.max_area) continue;
    bool masked = false;
    for (const std::string& name : f.mask) {
      const pipeline::Zone* z = camera.FindZone(name);
      masked = masked || (z != nullptr && InZone(*z, d.box.BottomCenter()));
    }
    if (!masked) out.detections.push_back(d);
  }
  return out;
}

// Per block: the frame it outputs (detect, filter) or its tracks (track).
struct Stage {
  FrameResult frame;
  std::vector<pipeline::Track> tracks;
  std::unique_ptr<pipeline::Tracker> tracker;
  std::unique_ptr<pipeline::Rule> rule;
};

}  // namespace

pipeline::FrameResult ToFrameResult(const inference::InferenceOutput& out, uint64_t index,
                                    double time) {
  FrameResult f;
  f.frame_index = index;
  f.time = time;
  f.width = out.image_width;
  f.height = out.image_height;
  for (const inference::Detection& d : out.detections) {
    pipeline::Detection p;
    p.box = {d.box.x1, d.box.y1, d.box.x2, d.box.y2};
    p.score = d.score;
    p.label = d.label;
    for (char& c : p.label) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    f.detections.push_back(std::move(p));
  }
  return f;
}

absl::StatusOr<InProcessResult> RunInProcess(const pipeline::CameraSpec& camera,
                                             const std::string& video_path,
                                             inference::Model& detector) {
  absl::StatusOr<std::vector<size_t>> order = pipeline::TopologicalOrder(camera);
  if (!order.ok()) return order.status();
  std::map<std::string, Stage> stages;
  for (size_t i : *order) {
    const BlockSpec& b = camera.blocks[i];
    Stage& s = stages[b.id];
    if (b.type == BlockType::kTrack) {
      const auto& p = std::get<pipeline::TrackParams>(b.params);
      pipeline::TrackerOptions o;
      o.min_hits = p.min_hits;
      o.max_lost = p.max_lost;
      o.iou = p.iou;
      absl::StatusOr<std::unique_ptr<pipeline::Tracker>> t = pipeline::Tracker::Create(o);
      if (!t.ok()) return t.status();
      s.tracker = std::move(*t);
    } else if (pipeline::IsRule(b.type)) {
      absl::StatusOr<std::unique_ptr<pipeline::Rule>> r = pipeline::MakeRule(camera, b);
      if (!r.ok()) return r.status();
      s.rule = std::move(*r);
    } else if (b.type == BlockType::kDetect) {
      if (std::get<pipeline::DetectParams>(b.params).every != 1) {
        return absl::UnimplementedError("in-process runs detect every frame");
      }
    } else if (b.type != BlockType::kFilter && b.type != BlockType::kSink) {
      return absl::UnimplementedError("in-process runs have no block type " +
                                      std::string(pipeline::BlockTypeName(b.type)));
    }
  }
  cv::VideoCapture cap(video_path, cv::CAP_FFMPEG);
  if (!cap.isOpened()) return absl::NotFoundError("cannot open " + video_path);
  double fps = cap.get(cv::CAP_PROP_FPS);
  if (!(fps > 0)) fps = 10;
  InProcessResult result;
  cv::Mat frame;
  const pipeline::RuleInputs extra;
  for (uint64_t index = 0; cap.read(frame); ++index) {
    absl::StatusOr<inference::InferenceOutput> out = detector.Run(frame);
    if (!out.ok()) return out.status();
    const double time = static_cast<double>(index) / fps;
    result.frames.push_back(ToFrameResult(*out, index, time));
    for (size_t i : *order) {
      const BlockSpec& b = camera.blocks[i];
      Stage& s = stages[b.id];
      const Stage* in = b.inputs.empty() ? nullptr : &stages[b.inputs.front()];
      if (b.type == BlockType::kDetect) {
        s.frame = result.frames.back();
      } else if (b.type == BlockType::kFilter) {
        s.frame = Filter(camera, std::get<pipeline::FilterParams>(b.params), in->frame);
      } else if (b.type == BlockType::kTrack) {
        s.frame = in->frame;
        s.tracks = s.tracker->Update(s.frame);
        if (result.tracks.size() <= index) result.tracks.push_back(s.tracks);
      } else if (s.rule) {
        s.rule->Observe(in->frame, in->tracks, extra, result.events);
      }
    }
    result.frame_count = static_cast<int>(index) + 1;
  }
  const double end = result.frame_count / fps;
  for (auto& [id, s] : stages) {
    if (s.rule) s.rule->Finish(end, result.events);
  }
  return result;
}

}  // namespace heteroaccel::scenes

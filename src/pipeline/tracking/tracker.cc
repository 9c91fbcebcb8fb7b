#include "pipeline/tracking/tracker.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "absl/status/status.h"
#include "pipeline/tracking/internal/assignment.h"
#include "pipeline/tracking/internal/box_kalman.h"

namespace heteroaccel::pipeline {
namespace {

bool Usable(const Detection& d, float low_score) {
  const Rect& b = d.box;
  return std::isfinite(b.x1) && std::isfinite(b.y1) && std::isfinite(b.x2) && std::isfinite(b.y2) &&
         b.Area() > 0 && std::isfinite(d.score) && d.score >= low_score;
}

absl::Status Invalid(const std::string& key, const std::string& what) {
  return absl::InvalidArgumentError("tracker: " + key + ": " + what);
}

}  // namespace

struct Tracker::State {
  State(const Rect& box) : kf(box) {}
  Track track;
  internal::BoxKalman kf;
  double state_time = 0;    // camera time the filter's state refers to
  uint64_t last_frame = 0;  // frame_index of the last match
};

absl::StatusOr<std::unique_ptr<Tracker>> Tracker::Create(const TrackerOptions& o) {
  if (o.min_hits < 1) return Invalid("min_hits", "must be >= 1");
  if (o.max_lost < 0) return Invalid("max_lost", "must be >= 0");
  if (!(o.iou > 0 && o.iou <= 1)) return Invalid("iou", "must be in (0, 1]");
  if (!(o.high_score >= 0 && o.high_score <= 1)) return Invalid("high_score", "must be in [0, 1]");
  if (!(o.low_score >= 0 && o.low_score <= o.high_score)) {
    return Invalid("low_score", "must be in [0, high_score]");
  }
  if (!(o.low_iou >= 0 && o.low_iou <= 1)) return Invalid("low_iou", "must be in [0, 1]");
  if (o.max_lost_seconds && !(*o.max_lost_seconds > 0)) {
    return Invalid("max_lost_seconds", "must be > 0 when set");
  }
  if (o.max_detections < 1 || o.max_tracks < 1) {
    return Invalid("max_detections/max_tracks", "must be >= 1");
  }
  return std::unique_ptr<Tracker>(new Tracker(o));
}

Tracker::Tracker(const TrackerOptions& options) : options_(options) {}
Tracker::~Tracker() = default;

std::vector<Track> Tracker::Update(const FrameResult& frame) {
  // The detections that take part, best first, bounded.
  std::vector<size_t> order;
  for (size_t i = 0; i < frame.detections.size(); ++i) {
    if (Usable(frame.detections[i], options_.low_score)) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return frame.detections[a].score > frame.detections[b].score;
  });
  if (order.size() > options_.max_detections) order.resize(options_.max_detections);
  std::vector<size_t> high, low;
  for (size_t i : order) {
    (frame.detections[i].score >= options_.high_score ? high : low).push_back(i);
  }

  Predict(frame);

  std::vector<size_t> confirmed, tentative;
  for (size_t t = 0; t < tracks_.size(); ++t) {
    (tracks_[t]->track.confirmed ? confirmed : tentative).push_back(t);
  }
  Associate(frame, high, confirmed, options_.iou);
  std::vector<size_t> tracked;  // confirmed, unmatched, not lost
  for (size_t t : confirmed) {
    if (!tracks_[t]->track.lost) tracked.push_back(t);
  }
  Associate(frame, low, tracked, std::max(options_.iou, options_.low_iou));
  Associate(frame, high, tentative, options_.iou);

  Age(frame);
  for (size_t d : high) {
    if (tracks_.size() >= options_.max_tracks) break;
    StartTrack(frame, d);
  }

  std::vector<Track> out;
  out.reserve(tracks_.size());
  for (const auto& s : tracks_) out.push_back(s->track);
  return out;
}

void Tracker::Predict(const FrameResult& frame) {
  for (auto& s : tracks_) {
    s->track.detection.reset();
    const double dt = frame.time - s->state_time;
    if (!(dt > 0)) continue;  // the same time, or time going backwards: no motion
    if (s->track.lost) s->kf.FreezeSize();
    s->kf.Predict(dt);
    s->state_time = frame.time;
    s->track.box = s->kf.box();
  }
}

void Tracker::Associate(const FrameResult& frame, std::vector<size_t>& dets,
                        std::vector<size_t>& trks, float min_iou) {
  if (dets.empty() || trks.empty()) return;
  std::vector<float> iou(trks.size() * dets.size(), -1.0f);
  for (size_t r = 0; r < trks.size(); ++r) {
    const Track& t = tracks_[trks[r]]->track;
    for (size_t c = 0; c < dets.size(); ++c) {
      const Detection& d = frame.detections[dets[c]];
      if (options_.same_label && d.label != t.label) continue;
      iou[r * dets.size() + c] = IoU(t.box, d.box);
    }
  }
  const auto pairs = internal::MaxScoreMatching(iou, trks.size(), dets.size(), min_iou);
  std::vector<char> det_used(dets.size(), 0), trk_used(trks.size(), 0);
  for (const auto& [r, c] : pairs) {
    Match(*tracks_[trks[r]], frame, dets[c]);
    trk_used[r] = det_used[c] = 1;
  }
  std::vector<size_t> rest;
  for (size_t c = 0; c < dets.size(); ++c) {
    if (!det_used[c]) rest.push_back(dets[c]);
  }
  dets.swap(rest);
  rest.clear();
  for (size_t r = 0; r < trks.size(); ++r) {
    if (!trk_used[r]) rest.push_back(trks[r]);
  }
  trks.swap(rest);
}

void Tracker::Match(State& s, const FrameResult& frame, size_t det) {
  const Detection& d = frame.detections[det];
  s.kf.Correct(d.box);
  Track& t = s.track;
  t.box = s.kf.box();
  t.score = d.score;
  t.lost = false;
  t.last_seen = frame.time;
  t.detection = det;
  ++t.hits;
  if (t.hits >= options_.min_hits) t.confirmed = true;
  s.last_frame = frame.frame_index;
}

void Tracker::StartTrack(const FrameResult& frame, size_t det) {
  const Detection& d = frame.detections[det];
  auto s = std::make_unique<State>(d.box);
  Track& t = s->track;
  t.id = next_id_++;
  t.label = d.label;
  t.box = d.box;
  t.score = d.score;
  t.first_seen = t.last_seen = frame.time;
  t.hits = 1;
  t.confirmed = t.hits >= options_.min_hits;
  t.detection = det;
  s->state_time = frame.time;
  s->last_frame = frame.frame_index;
  tracks_.push_back(std::move(s));
}

void Tracker::Age(const FrameResult& frame) {
  std::erase_if(tracks_, [&](const std::unique_ptr<State>& s) {
    Track& t = s->track;
    if (t.detection) return false;
    if (!t.confirmed) return true;  // a tentative track that misses a frame is noise
    t.lost = true;
    const uint64_t frames_lost =
        frame.frame_index > s->last_frame ? frame.frame_index - s->last_frame : 0;
    if (frames_lost > static_cast<uint64_t>(options_.max_lost)) return true;
    return options_.max_lost_seconds && frame.time - t.last_seen > *options_.max_lost_seconds;
  });
}

}  // namespace heteroaccel::pipeline

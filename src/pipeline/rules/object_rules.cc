// Rules about one object's state: abandoned_object, fall, licence_plate.
// Semantics in rules.h.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <optional>

#include "pipeline/attributes/plate.h"
#include "pipeline/rules/internal/factories.h"
#include "pipeline/rules/internal/rule_base.h"

namespace heteroaccel::pipeline::internal {
namespace {

struct AbandonState {
  bool started = false;
  Point origin;
  double still_since = 0;
  std::optional<double> alone_since;
  double last_seen = 0;
  std::optional<OpenEvent> open;
};

class AbandonedObjectRule final : public PerTrackRule<AbandonState> {
 public:
  AbandonedObjectRule(const CameraSpec& camera, const BlockSpec& block)
      : PerTrackRule(camera, block, "abandoned",
                     std::get<AbandonedObjectParams>(block.params).classes),
        seconds_(std::get<AbandonedObjectParams>(block.params).seconds),
        person_distance_(std::get<AbandonedObjectParams>(block.params).person_distance_px),
        still_px_(std::get<AbandonedObjectParams>(block.params).still_px) {}

  void Observe(const FrameResult& frame, const std::vector<Track>& tracks, const RuleInputs& extra,
               std::vector<Event>& out) override {
    Enter(extra);
    // People, lost ones included: a person standing in front of the object
    // hides it, and is still near it.
    std::vector<std::pair<uint64_t, Point>> people;
    for (const Track& t : tracks) {
      if (t.confirmed && t.label == "person") people.emplace_back(t.id, t.box.BottomCenter());
    }
    for (const Track& track : tracks) {
      if (!Wants(track) || track.label == "person") continue;
      AbandonState& st = states_[track.id];
      st.last_seen = track.last_seen;
      const Point c = track.box.Center();
      const bool near = std::any_of(people.begin(), people.end(), [&](const auto& person) {
        return person.first != track.id && Distance(person.second, c) <= person_distance_;
      });
      const bool moved = !track.lost && (!st.started || Distance(c, st.origin) > still_px_);
      if (moved) {
        st.started = true;
        st.origin = c;
        st.still_since = frame.time;
      }
      if (near) {
        st.alone_since.reset();
      } else if (!st.alone_since) {
        st.alone_since = frame.time;
      }
      if (st.open && (moved || near)) {
        End(*st.open, frame.time, out);
        st.open.reset();
      }
      if (!st.open && st.started && !track.lost && st.alone_since) {
        const double since = std::max(st.still_since, *st.alone_since);
        if (frame.time - since >= seconds_) {
          st.open = Begin(frame, &track, extra, since, out);
        }
      }
      if (st.open) {
        RuleBase::Observe(*st.open, frame, track, extra);
        MaybeUpdate(*st.open, frame.time, out);
      }
    }
    EndGone(tracks, out);
  }

 private:
  double seconds_;
  float person_distance_;
  float still_px_;
};

// The mean of the named left/right keypoints that are confident enough.
std::optional<Point> Midpoint(const std::vector<Keypoint>& keypoints, std::string_view part) {
  float x = 0, y = 0;
  int n = 0;
  for (const Keypoint& k : keypoints) {
    if (k.score < kKeypointMinScore || !std::isfinite(k.p.x) || !std::isfinite(k.p.y)) continue;
    const std::string_view name = k.name;
    const bool left = name.starts_with("left_") && name.substr(5) == part;
    const bool right = name.starts_with("right_") && name.substr(6) == part;
    if (left || right) {
      x += k.p.x;
      y += k.p.y;
      ++n;
    }
  }
  if (n == 0) return std::nullopt;
  return Point{x / static_cast<float>(n), y / static_cast<float>(n)};
}

}  // namespace

// true: fallen, false: upright, nullopt: the keypoints cannot tell.
std::optional<bool> ReadsFallen(const std::vector<Keypoint>& keypoints, const Rect& box) {
  const auto shoulders = Midpoint(keypoints, "shoulder");
  const auto hips = Midpoint(keypoints, "hip");
  const auto ankles = Midpoint(keypoints, "ankle");
  std::optional<bool> reading;
  if (shoulders && hips && !(*shoulders == *hips)) {
    const double dx = std::abs(shoulders->x - hips->x);
    const double up = hips->y - shoulders->y;  // > 0 when the shoulders are above
    const double degrees = std::atan2(dx, up) * 180 / std::numbers::pi;
    if (degrees > kFallTorsoDegrees) return true;
    reading = false;
  }
  if (hips && ankles && box.Height() > 0) {
    const double longer = std::max(box.Width(), box.Height());
    const bool flat = box.Width() / box.Height() > kFallAspect &&
                      std::abs(hips->y - ankles->y) < kFallHipAnkleFraction * longer;
    if (flat) return true;
    reading = false;
  }
  return reading;
}

namespace {

struct FallState {
  std::optional<double> fallen_since;
  int fallen_frames = 0;
  std::optional<double> upright_since;
  double last_seen = 0;
  std::optional<OpenEvent> open;
};

class FallRule final : public PerTrackRule<FallState> {
 public:
  FallRule(const CameraSpec& camera, const BlockSpec& block)
      : PerTrackRule(camera, block, "fall", {}) {}

  void Observe(const FrameResult& frame, const std::vector<Track>& tracks, const RuleInputs& extra,
               std::vector<Event>& out) override {
    Enter(extra);
    for (const Track& track : tracks) {
      if (!track.confirmed) continue;
      const auto kp = extra.keypoints.find(track.id);
      auto st_it = states_.find(track.id);
      if (st_it == states_.end()) {
        if (kp == extra.keypoints.end()) continue;  // never had a pose: nothing to keep
        st_it = states_.emplace(track.id, FallState{}).first;
      }
      FallState& st = st_it->second;
      st.last_seen = track.last_seen;
      if (kp != extra.keypoints.end() && !track.lost) {
        if (const auto fallen = ReadsFallen(kp->second, track.box)) {
          Step(frame, track, extra, *fallen, st, out);
        }
      }
      if (st.open) {
        RuleBase::Observe(*st.open, frame, track, extra);
        MaybeUpdate(*st.open, frame.time, out);
      }
    }
    EndGone(tracks, out);
  }

 private:
  void Step(const FrameResult& frame, const Track& track, const RuleInputs& extra, bool fallen,
            FallState& st, std::vector<Event>& out) {
    if (fallen) {
      st.upright_since.reset();
      if (!st.fallen_since) {
        st.fallen_since = frame.time;
        st.fallen_frames = 0;
      }
      ++st.fallen_frames;
      if (!st.open && st.fallen_frames >= 2 &&
          frame.time - *st.fallen_since >= kFallSustainSeconds) {
        st.open = Begin(frame, &track, extra, *st.fallen_since, out);
      }
      return;
    }
    st.fallen_since.reset();
    st.fallen_frames = 0;
    if (!st.open) return;
    if (!st.upright_since) st.upright_since = frame.time;
    if (frame.time - *st.upright_since >= kFallRecoverSeconds) {
      End(*st.open, *st.upright_since, out);
      st.open.reset();
      st.upright_since.reset();
    }
  }
};

// A track with plate readings: what its one event will carry.
struct PlateTrack {
  double first_reading = 0;
  double last_seen = 0;
  Track best;              // the track in its best-scored matched frame
  FrameResult best_frame;  // only index and provenance kept
  std::string colour;
};

class LicencePlateRule final : public RuleBase {
 public:
  LicencePlateRule(const CameraSpec& camera, const BlockSpec& block,
                   std::unique_ptr<PlateReader> reader)
      : RuleBase(camera, block, "licence_plate", {}),
        params_(std::get<LicencePlateParams>(block.params)),
        reader_(std::move(reader)) {}

  void Observe(const FrameResult& frame, const std::vector<Track>& tracks, const RuleInputs& extra,
               std::vector<Event>& out) override {
    Enter(extra);
    for (const Track& track : tracks) {
      const auto texts = extra.texts.find(track.id);
      auto it = plates_.find(track.id);
      if (it == plates_.end()) {
        if (texts == extra.texts.end() || texts->second.empty()) continue;
        it = plates_.emplace(track.id, PlateTrack{.first_reading = frame.time}).first;
      }
      PlateTrack& p = it->second;
      p.last_seen = track.last_seen;
      if (texts != extra.texts.end()) {
        for (const PlateText& t : texts->second) reader_->Add(track.id, t.text, t.confidence);
      }
      if (!track.lost && (p.best.id == 0 || track.score > p.best.score)) {
        p.best = track;
        p.best_frame.frame_index = frame.frame_index;
        p.best_frame.time = frame.time;
        p.best_frame.provenance = frame.provenance;
      }
      if (const auto c = extra.colours.find(track.id); c != extra.colours.end()) {
        p.colour = c->second;
      }
    }
    const auto present = Present(tracks);
    for (auto it = plates_.begin(); it != plates_.end();) {
      if (present.contains(it->first)) {
        ++it;
        continue;
      }
      Emit(it->first, it->second, it->second.last_seen, out);
      it = plates_.erase(it);
    }
  }

  void Finish(double time, std::vector<Event>& out) override {
    for (auto& [id, p] : plates_) Emit(id, p, std::min(time, p.last_seen), out);
    plates_.clear();
  }

  // Plate events are instantaneous; nothing stays open.
  size_t open_events() const override { return 0; }

 private:
  void Emit(uint64_t id, const PlateTrack& p, double end, std::vector<Event>& out) {
    const std::optional<PlateReading> best = reader_->Best(id);
    reader_->Forget(id);
    if (!best || best->text.empty()) return;  // no reading matched the pattern
    const Track* track = p.best.id != 0 ? &p.best : nullptr;
    const FrameResult& frame = p.best_frame;
    RuleInputs colours;
    if (!p.colour.empty()) colours.colours[id] = p.colour;
    OpenEvent open = Begin(frame, track, colours, p.first_reading, out, [&](Event& e) {
      e.track_id = id;
      e.text = best->text;
      nlohmann::json detail = {{"votes", best->votes},
                               {"confidence", std::round(best->best_confidence * 1000.0) / 1000.0}};
      if (const auto match = MatchKnown(best->text, params_.known, params_.max_distance, true)) {
        detail["known"] = match->entry;
        detail["distance"] = match->distance;
      }
      e.detail = detail.dump();
    });
    End(open, end, out);
  }

  LicencePlateParams params_;
  std::unique_ptr<PlateReader> reader_;
  std::map<uint64_t, PlateTrack> plates_;
};

}  // namespace

std::unique_ptr<Rule> MakeAbandonedObject(const CameraSpec& camera, const BlockSpec& block) {
  return std::make_unique<AbandonedObjectRule>(camera, block);
}

std::unique_ptr<Rule> MakeFall(const CameraSpec& camera, const BlockSpec& block) {
  return std::make_unique<FallRule>(camera, block);
}

absl::StatusOr<std::unique_ptr<Rule>> MakeLicencePlate(const CameraSpec& camera,
                                                       const BlockSpec& block) {
  const auto& params = std::get<LicencePlateParams>(block.params);
  PlateReaderOptions options;
  options.pattern = params.pattern;
  auto reader = PlateReader::Create(options);
  if (!reader.ok()) return reader.status();
  return std::make_unique<LicencePlateRule>(camera, block, std::move(*reader));
}

}  // namespace heteroaccel::pipeline::internal

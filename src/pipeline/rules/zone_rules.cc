// Rules about a zone: zone_intrusion, loitering, parking (per track) and
// crowding (per zone). Semantics in rules.h.
#include <algorithm>
#include <cmath>
#include <optional>
#include <unordered_map>

#include "pipeline/rules/internal/factories.h"
#include "pipeline/rules/internal/rule_base.h"

namespace heteroaccel::pipeline::internal {
namespace {

struct IntrusionState {
  int inside_run = 0;
  int outside_run = 0;
  double run_start = 0;
  double last_seen = 0;
  std::optional<OpenEvent> open;
};

class ZoneIntrusionRule final : public PerTrackRule<IntrusionState> {
 public:
  ZoneIntrusionRule(const CameraSpec& camera, const BlockSpec& block, const Zone& zone)
      : PerTrackRule(camera, block, "intrusion",
                     std::get<ZoneIntrusionParams>(block.params).classes, zone.name),
        polygon_(zone.polygon),
        inertia_(std::get<ZoneIntrusionParams>(block.params).inertia) {}

  void Observe(const FrameResult& frame, const std::vector<Track>& tracks, const RuleInputs& extra,
               std::vector<Event>& out) override {
    ObserveTracks(frame, tracks, extra, out,
                  [&](const Track& track, IntrusionState& st) { Step(frame, track, extra, st, out); });
  }

 private:
  void Step(const FrameResult& frame, const Track& track, const RuleInputs& extra,
            IntrusionState& st, std::vector<Event>& out) {
    if (PointInPolygon(polygon_, track.box.BottomCenter())) {
      if (st.inside_run == 0) st.run_start = frame.time;
      ++st.inside_run;
      st.outside_run = 0;
      if (!st.open && st.inside_run >= inertia_) {
        st.open = Begin(frame, &track, extra, st.run_start, out);
      }
    } else {
      if (st.outside_run == 0) st.run_start = frame.time;
      ++st.outside_run;
      st.inside_run = 0;
      if (st.open && st.outside_run >= inertia_) {
        End(*st.open, st.run_start, out);
        st.open.reset();
      }
    }
  }

  std::vector<Point> polygon_;
  int inertia_;
};

struct LoiterState {
  std::optional<double> entered;
  double last_seen = 0;
  std::optional<OpenEvent> open;
};

class LoiteringRule final : public PerTrackRule<LoiterState> {
 public:
  LoiteringRule(const CameraSpec& camera, const BlockSpec& block, const Zone& zone)
      : PerTrackRule(camera, block, "loitering", std::get<LoiteringParams>(block.params).classes,
                     zone.name),
        polygon_(zone.polygon),
        seconds_(std::get<LoiteringParams>(block.params).seconds) {}

  void Observe(const FrameResult& frame, const std::vector<Track>& tracks, const RuleInputs& extra,
               std::vector<Event>& out) override {
    Enter(extra);
    for (const Track& track : tracks) {
      if (!Wants(track)) continue;
      LoiterState& st = states_[track.id];
      st.last_seen = track.last_seen;
      if (!track.lost) {
        if (PointInPolygon(polygon_, track.box.BottomCenter())) {
          if (!st.entered) st.entered = frame.time;
          if (!st.open && frame.time - *st.entered >= seconds_) {
            const double entered = *st.entered;
            st.open = Begin(frame, &track, extra, entered, out, [this](Event& e) {
              e.detail = nlohmann::json{{"seconds", seconds_}}.dump();
            });
          }
        } else {
          st.entered.reset();
          if (st.open) {
            End(*st.open, frame.time, out);
            st.open.reset();
          }
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
  std::vector<Point> polygon_;
  double seconds_;
};

struct ParkState {
  bool started = false;
  Point origin;
  double still_since = 0;
  double last_seen = 0;
  std::optional<OpenEvent> open;
};

class ParkingRule final : public PerTrackRule<ParkState> {
 public:
  ParkingRule(const CameraSpec& camera, const BlockSpec& block, const Zone& zone)
      : PerTrackRule(camera, block, "parking", std::get<ParkingParams>(block.params).classes,
                     zone.name),
        polygon_(zone.polygon),
        seconds_(std::get<ParkingParams>(block.params).seconds),
        still_px_(std::get<ParkingParams>(block.params).still_px) {}

  void Observe(const FrameResult& frame, const std::vector<Track>& tracks, const RuleInputs& extra,
               std::vector<Event>& out) override {
    ObserveTracks(frame, tracks, extra, out,
                  [&](const Track& track, ParkState& st) { Step(frame, track, extra, st, out); });
  }

 private:
  void Step(const FrameResult& frame, const Track& track, const RuleInputs& extra, ParkState& st,
            std::vector<Event>& out) {
    const Point c = track.box.Center();
    const bool inside = PointInPolygon(polygon_, track.box.BottomCenter());
    const bool moved = !st.started || Distance(c, st.origin) > still_px_;
    if (moved || !inside) {
      st.started = true;
      st.origin = c;
      st.still_since = frame.time;
      if (st.open) {
        End(*st.open, frame.time, out);
        st.open.reset();
      }
      return;
    }
    if (!st.open && frame.time - st.still_since >= seconds_) {
      st.open = Begin(frame, &track, extra, st.still_since, out);
    }
  }

  std::vector<Point> polygon_;
  double seconds_;
  float still_px_;
};

class CrowdingRule final : public RuleBase {
 public:
  CrowdingRule(const CameraSpec& camera, const BlockSpec& block, const Zone& zone)
      : RuleBase(camera, block, "crowding", std::get<CrowdingParams>(block.params).classes,
                 zone.name),
        polygon_(zone.polygon),
        count_(std::get<CrowdingParams>(block.params).count),
        seconds_(std::get<CrowdingParams>(block.params).seconds) {}

  void Observe(const FrameResult& frame, const std::vector<Track>& tracks, const RuleInputs& extra,
               std::vector<Event>& out) override {
    Enter(extra);
    int count = 0;
    Rect all;
    for (const Track& track : tracks) {
      if (!Wants(track) || !PointInPolygon(polygon_, track.box.BottomCenter())) continue;
      all = count == 0 ? track.box
                       : Rect{std::min(all.x1, track.box.x1), std::min(all.y1, track.box.y1),
                              std::max(all.x2, track.box.x2), std::max(all.y2, track.box.y2)};
      ++count;
    }
    if (count >= count_) {
      below_since_.reset();
      if (!above_since_) above_since_ = frame.time;
      if (!open_ && frame.time - *above_since_ >= seconds_) {
        open_ = Begin(frame, nullptr, extra, *above_since_, out, [&](Event& e) {
          e.count = count;
          e.object = classes().size() == 1 ? classes()[0] : "";
          e.box = all;
          e.snapshot_score = static_cast<float>(count);
        });
      }
    } else {
      above_since_.reset();
      if (open_) {
        if (!below_since_) below_since_ = frame.time;
        if (frame.time - *below_since_ >= seconds_ / 2) {
          open_->event.count = count;
          End(*open_, *below_since_, out);
          open_.reset();
          below_since_.reset();
        }
      }
    }
    if (open_) {
      if (open_->event.count != count) {
        open_->event.count = count;
        open_->changed = true;
      }
      Snapshot(*open_, frame, all, static_cast<float>(count));
      MaybeUpdate(*open_, frame.time, out);
    }
  }

  void Finish(double time, std::vector<Event>& out) override {
    if (open_) End(*open_, time, out);
    open_.reset();
    above_since_.reset();
    below_since_.reset();
  }

  size_t open_events() const override { return open_ ? 1 : 0; }

 private:
  std::vector<Point> polygon_;
  int count_;
  double seconds_;
  std::optional<double> above_since_;
  std::optional<double> below_since_;
  std::optional<OpenEvent> open_;
};

}  // namespace

float Distance(Point a, Point b) { return std::hypot(a.x - b.x, a.y - b.y); }

std::unique_ptr<Rule> MakeZoneIntrusion(const CameraSpec& camera, const BlockSpec& block,
                                        const Zone& zone) {
  return std::make_unique<ZoneIntrusionRule>(camera, block, zone);
}
std::unique_ptr<Rule> MakeLoitering(const CameraSpec& camera, const BlockSpec& block,
                                    const Zone& zone) {
  return std::make_unique<LoiteringRule>(camera, block, zone);
}
std::unique_ptr<Rule> MakeParking(const CameraSpec& camera, const BlockSpec& block,
                                  const Zone& zone) {
  return std::make_unique<ParkingRule>(camera, block, zone);
}
std::unique_ptr<Rule> MakeCrowding(const CameraSpec& camera, const BlockSpec& block,
                                   const Zone& zone) {
  return std::make_unique<CrowdingRule>(camera, block, zone);
}

}  // namespace heteroaccel::pipeline::internal

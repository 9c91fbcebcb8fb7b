// line_crossing: directed crossings of a segment, with hysteresis. Semantics
// in rules.h.
#include <cmath>
#include <optional>

#include "pipeline/rules/internal/factories.h"
#include "pipeline/rules/internal/rule_base.h"

namespace heteroaccel::pipeline::internal {
namespace {

struct CrossState {
  int side = 0;                      // -1 left, +1 right, 0 not taken yet
  std::optional<Point> previous;     // the anchor in the last matched frame
  std::optional<double> crossed_at;  // where the path last crossed the line, along from..to
  bool counted[2] = {false, false};  // forward, backward
  double last_seen = 0;
  std::optional<OpenEvent> open;  // never set: crossings are instantaneous
};

class LineCrossingRule final : public PerTrackRule<CrossState> {
 public:
  LineCrossingRule(const CameraSpec& camera, const BlockSpec& block, const Line& line)
      : PerTrackRule(camera, block, "line_crossing",
                     std::get<LineCrossingParams>(block.params).classes, line.name),
        from_(line.from),
        dx_(static_cast<double>(line.to.x) - line.from.x),
        dy_(static_cast<double>(line.to.y) - line.from.y),
        length_(std::hypot(dx_, dy_)),
        hysteresis_(std::get<LineCrossingParams>(block.params).hysteresis_px) {}

  void Observe(const FrameResult& frame, const std::vector<Track>& tracks, const RuleInputs& extra,
               std::vector<Event>& out) override {
    Enter(extra);
    for (const Track& track : tracks) {
      if (!Wants(track)) continue;
      CrossState& st = states_[track.id];
      st.last_seen = track.last_seen;
      if (!track.lost) Step(frame, track, extra, st, out);
    }
    EndGone(tracks, out);
  }

  std::vector<RuleCounter> Counters() const override {
    return {{"forward", counts_[0]}, {"backward", counts_[1]}};
  }

 private:
  // Signed distance to the line: < 0 left of from -> to, > 0 right (y down).
  double SignedDistance(Point p) const {
    return (dx_ * (static_cast<double>(p.y) - from_.y) -
            dy_ * (static_cast<double>(p.x) - from_.x)) /
           length_;
  }

  // Position along from -> to of a point, 0 at from, 1 at to.
  double Along(double x, double y) const {
    return (dx_ * (x - from_.x) + dy_ * (y - from_.y)) / (length_ * length_);
  }

  void Step(const FrameResult& frame, const Track& track, const RuleInputs& extra, CrossState& st,
            std::vector<Event>& out) {
    const Point p = track.box.BottomCenter();
    const double d = SignedDistance(p);
    if (st.previous) {
      const double before = SignedDistance(*st.previous);
      if ((before < 0) != (d < 0) && before != d) {
        const double t = before / (before - d);  // where along the step the sign changed
        st.crossed_at = Along(st.previous->x + t * (p.x - st.previous->x),
                              st.previous->y + t * (p.y - st.previous->y));
      }
    }
    st.previous = p;
    const bool taken = hysteresis_ > 0 ? std::abs(d) >= hysteresis_ : d != 0;
    if (!taken) return;
    const int side = d < 0 ? -1 : 1;
    if (st.side != 0 && side != st.side && st.crossed_at && *st.crossed_at >= 0 &&
        *st.crossed_at <= 1) {
      const int direction = st.side < 0 ? 0 : 1;  // left -> right is forward
      if (!st.counted[direction]) {
        st.counted[direction] = true;
        ++counts_[direction];
        OpenEvent open = Begin(frame, &track, extra, frame.time, out, [&](Event& e) {
          e.direction = direction == 0 ? "forward" : "backward";
          e.detail = nlohmann::json{{"direction", e.direction}}.dump();
        });
        End(open, frame.time, out);
      }
    }
    st.side = side;
  }

  Point from_;
  double dx_;
  double dy_;
  double length_;
  float hysteresis_;
  uint64_t counts_[2] = {0, 0};
};

}  // namespace

std::unique_ptr<Rule> MakeLineCrossing(const CameraSpec& camera, const BlockSpec& block,
                                       const Line& line) {
  return std::make_unique<LineCrossingRule>(camera, block, line);
}

}  // namespace heteroaccel::pipeline::internal

// What every rule shares: identity, class filtering, event ids, and the event
// lifecycle (kNew, rate-limited kUpdate on material changes, kEnd) with the best
// snapshot kept while an event lives. Used by the rules' .cc files only.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "pipeline/rules/rules.h"

namespace heteroaccel::pipeline::internal {

// One event between kNew and kEnd.
struct OpenEvent {
  Event event;              // the latest state; copies are emitted
  float emitted_score = 0;  // snapshot score of the last emitted copy
  double last_emit = 0;     // camera time of the last emitted copy
  bool changed = false;     // a material change not emitted yet
};

class RuleBase : public Rule {
 protected:
  // `zone`: the zone or line name events carry ("" for none).
  RuleBase(const CameraSpec& camera, const BlockSpec& block, std::string type,
           std::vector<std::string> classes, std::string zone = "");

  // Confirmed and of the rule's classes.
  bool Wants(const Track& track) const;
  bool OfClass(const std::string& label) const;

  // Call first in Observe: the frame's camera and group.
  void Enter(const RuleInputs& extra);

  // Starts an event about `track` (null: about a zone), lets `fill` complete
  // it (count, box, direction, ...), emits kNew.
  OpenEvent Begin(const FrameResult& frame, const Track* track, const RuleInputs& extra,
                  double start, std::vector<Event>& out,
                  const std::function<void(Event&)>& fill = nullptr);
  // Keeps the frame as the snapshot when `score` beats the event's best;
  // a gain of kSnapshotGain over the emitted copy is a material change.
  static void Snapshot(OpenEvent& open, const FrameResult& frame, const Rect& box, float score);
  // Snapshot from a matched track, and the track's colour when first known.
  static void Observe(OpenEvent& open, const FrameResult& frame, const Track& track,
                      const RuleInputs& extra);
  // Emits a kUpdate when changed and the last copy is kUpdateInterval old.
  static void MaybeUpdate(OpenEvent& open, double now, std::vector<Event>& out);
  // Emits kEnd.
  static void End(OpenEvent& open, double end, std::vector<Event>& out);

  // Ids of the tracks in the list.
  static std::unordered_set<uint64_t> Present(const std::vector<Track>& tracks);

  const std::string& rule_id() const { return rule_id_; }
  const std::vector<std::string>& classes() const { return classes_; }

 private:
  std::string spec_camera_;
  std::string spec_group_;
  std::string camera_;
  std::string group_;
  std::string rule_id_;
  std::string type_;
  std::vector<std::string> classes_;
  std::string zone_;
  uint64_t seq_ = 0;
};

// State (with `open` and `last_seen`) every per-track rule keeps, and ending events of tracks
// that left the tracker's list.
template <typename State>
class PerTrackRule : public RuleBase {
 public:
  using RuleBase::RuleBase;

  void Finish(double time, std::vector<Event>& out) override {
    for (auto& [id, st] : states_) {
      if (st.open) End(*st.open, time, out);
    }
    states_.clear();
  }

  size_t open_events() const override {
    return static_cast<size_t>(std::count_if(
        states_.begin(), states_.end(), [](const auto& kv) { return kv.second.open.has_value(); }));
  }

 protected:
  // One frame, the way most per-track rules see it: each wanted track's state
  // (made on first sight) gets `step(track, state)` when the track was seen in
  // this frame; an open event then takes the frame (snapshot, update), and the
  // events of tracks gone end.
  template <typename Step>
  void ObserveTracks(const FrameResult& frame, const std::vector<Track>& tracks,
                     const RuleInputs& extra, std::vector<Event>& out, Step step) {
    Enter(extra);
    for (const Track& track : tracks) {
      if (!Wants(track)) continue;
      State& st = states_[track.id];
      st.last_seen = track.last_seen;
      if (!track.lost) step(track, st);
      if (st.open) {
        RuleBase::Observe(*st.open, frame, track, extra);
        MaybeUpdate(*st.open, frame.time, out);
      }
    }
    EndGone(tracks, out);
  }

  // Ends the events of tracks no longer in `tracks`, at their last_seen.
  void EndGone(const std::vector<Track>& tracks, std::vector<Event>& out) {
    const auto present = Present(tracks);
    for (auto it = states_.begin(); it != states_.end();) {
      if (present.contains(it->first)) {
        ++it;
        continue;
      }
      if (it->second.open) End(*it->second.open, it->second.last_seen, out);
      it = states_.erase(it);
    }
  }

  std::map<uint64_t, State> states_;  // by id: events come out in a stable order
};

}  // namespace heteroaccel::pipeline::internal

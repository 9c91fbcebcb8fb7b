#include "pipeline/rules/internal/rule_base.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace heteroaccel::pipeline::internal {

RuleBase::RuleBase(const CameraSpec& camera, const BlockSpec& block, std::string type,
                   std::vector<std::string> classes, std::string zone)
    : spec_camera_(camera.id),
      spec_group_(camera.group),
      camera_(camera.id),
      group_(camera.group),
      rule_id_(block.id),
      type_(std::move(type)),
      classes_(std::move(classes)),
      zone_(std::move(zone)) {}

bool RuleBase::OfClass(const std::string& label) const {
  return classes_.empty() || std::find(classes_.begin(), classes_.end(), label) != classes_.end();
}

bool RuleBase::Wants(const Track& track) const { return track.confirmed && OfClass(track.label); }

void RuleBase::Enter(const RuleInputs& extra) {
  if (extra.camera.empty()) {
    camera_ = spec_camera_;
    group_ = spec_group_;
  } else {
    camera_ = extra.camera;
    group_ = extra.group;
  }
}

OpenEvent RuleBase::Begin(const FrameResult& frame, const Track* track, const RuleInputs& extra,
                          double start, std::vector<Event>& out,
                          const std::function<void(Event&)>& fill) {
  OpenEvent open;
  Event& e = open.event;
  e.id = camera_ + ":" + rule_id_ + ":" + std::to_string(++seq_);
  e.phase = EventPhase::kNew;
  e.camera = camera_;
  e.group = group_;
  e.rule = rule_id_;
  e.type = type_;
  e.start = start;
  e.zone = zone_;
  e.detail = "{}";
  e.snapshot_frame = frame.frame_index;
  e.provenance = frame.provenance;
  if (track != nullptr) {
    e.object = track->label;
    e.track_id = track->id;
    e.box = track->box;
    e.snapshot_score = track->lost ? 0 : track->score;
    if (const auto it = extra.colours.find(track->id); it != extra.colours.end()) {
      e.colour = it->second;
    }
  }
  if (fill) fill(e);
  open.emitted_score = e.snapshot_score;
  open.last_emit = frame.time;
  out.push_back(e);
  return open;
}

void RuleBase::Snapshot(OpenEvent& open, const FrameResult& frame, const Rect& box, float score) {
  Event& e = open.event;
  if (score <= e.snapshot_score) return;
  e.snapshot_score = score;
  e.snapshot_frame = frame.frame_index;
  e.box = box;
  e.provenance = frame.provenance;
  if (score >= open.emitted_score + kSnapshotGain) open.changed = true;
}

void RuleBase::Observe(OpenEvent& open, const FrameResult& frame, const Track& track,
                       const RuleInputs& extra) {
  if (!track.lost) Snapshot(open, frame, track.box, track.score);
  if (const auto it = extra.colours.find(track.id);
      it != extra.colours.end() && !it->second.empty() && it->second != open.event.colour) {
    open.event.colour = it->second;
    open.changed = true;
  }
}

void RuleBase::MaybeUpdate(OpenEvent& open, double now, std::vector<Event>& out) {
  if (!open.changed || now - open.last_emit < kUpdateInterval) return;
  open.event.phase = EventPhase::kUpdate;
  out.push_back(open.event);
  open.changed = false;
  open.emitted_score = open.event.snapshot_score;
  open.last_emit = now;
}

void RuleBase::End(OpenEvent& open, double end, std::vector<Event>& out) {
  open.event.phase = EventPhase::kEnd;
  open.event.end = std::max(end, open.event.start);
  out.push_back(open.event);
}

std::unordered_set<uint64_t> RuleBase::Present(const std::vector<Track>& tracks) {
  std::unordered_set<uint64_t> ids;
  for (const Track& t : tracks) ids.insert(t.id);
  return ids;
}

}  // namespace heteroaccel::pipeline::internal

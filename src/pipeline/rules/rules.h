// Rules: turn a camera's tracks, frame after frame, into events (an intrusion, a
// line crossed, a crowd, an abandoned bag, a fall, a licence plate, ...).
//
// A Rule is made from one rule block of a CameraSpec (MakeRule) and fed, in
// capture order, every frame the block's track (or crop_infer) block produced:
// the frame's results, the tracker's tracks after that frame (including lost
// tracks still kept), and the second-stage results per track (RuleInputs). It
// appends events to `out`. Finish(time) ends what is open (the camera stops).
//
// Event lifecycle (every rule): kNew when the condition starts; kUpdate when its
// data changes materially (a snapshot better by kSnapshotGain, a count change, a
// colour first known), at most once per kUpdateInterval seconds of camera time
// per event (a change inside the interval is sent with the first frame after it);
// kEnd when it ends (the object leaves, the condition stops, the track ends, i.e.
// the tracker dropped it after its max_lost, or Finish). Each copy carries the
// whole event: camera, group, rule id, type, object class, colour (when the
// track has one), track id, zone/line, start (and end on kEnd), and the best
// snapshot while the event lived: the frame, the box and the provenance of the
// frame where the tracked detection had its highest score (lost tracks' predicted
// boxes never make snapshots). Event ids are "<camera>:<rule>:<seq>", seq from 1.
// Durations are camera time (FrameResult::time), never frame counts, so dropped
// or skipped frames do not stretch them; only zone_intrusion's inertia counts
// frames, as Frigate's does.
//
// Only confirmed tracks of the rule's `classes` (empty: every class) count.
// Anchors: zone tests use the bottom centre of the box (where an object touches
// the ground); "still" tests use the box centre.
//
// Semantics and the anchors they copy:
// - zone_intrusion (Frigate zones' inertia): a track is in the zone after
//   `inertia` consecutive matched frames with its anchor inside, and out after
//   `inertia` consecutive frames outside. Start = the first frame of the inside
//   run; end = the first frame of the outside run (or the track's last_seen when
//   the track ends). Frames where the track is lost change nothing.
// - loitering (Frigate's loitering_time): anchor inside continuously for
//   `seconds`; kNew when the stay reaches `seconds`, with start = when it
//   entered; ends on the first matched frame outside, or when the track ends.
// - line_crossing (DeepStream nvdsanalytics line crossing with direction): the
//   line is the directed segment from -> to; an anchor's side is the sign of
//   cross(to - from, anchor - from) in image coordinates (x right, y down):
//   negative is the left of from -> to as drawn on screen, positive the right.
//   For from (0,300) to (768,300), left is above the line. "forward" = left to
//   right, "backward" = right to left. A side is only taken when the anchor is
//   at least `hysteresis_px` from the line (any non-zero distance when 0), so
//   jitter at the line never counts; a crossing counts when the taken side
//   changes and the anchor's path crossed the line within the segment's extent
//   (its crossing point projects inside from..to). At most one count per track
//   and direction. Events are instantaneous (kNew then kEnd, same start and
//   end). Counters(): "forward" and "backward" totals.
// - crowding (nvdsanalytics ROI overcrowding): the count of tracks (lost ones
//   included: an occluded person is still there) with the anchor in the zone
//   is >= `count` continuously for `seconds` -> event (track_id 0) with start =
//   when it reached `count`; kUpdate on count changes; ends once the count has
//   stayed below `count` for seconds/2 (hysteresis against one person stepping
//   out and back), end = when it dropped. Snapshot = the frame with the most.
// - abandoned_object (DL Streamer / Frigate stationary objects): a track whose
//   centre stays within `still_px` of where it stopped for `seconds`, with no
//   person track's anchor within `person_distance_px` of its centre all that
//   time -> event, start = the later of stopping and the last person leaving.
//   Ends when the object moves (someone took it), a person comes back within
//   the distance, or the track ends.
// - parking (Frigate stationary objects in a zone): a track of `classes` with its
//   anchor in `zone` and its centre within `still_px` of where it stopped for
//   `seconds` -> event, start = when it stopped. Ends when it moves, leaves the
//   zone or the track ends.
// - fall: from the pose keypoints of a track (names as the pose model gives
//   them: left_shoulder, right_hip, left_ankle, ...; frame pixels; used when
//   score >= kKeypointMinScore). A frame reads "fallen" when the torso (hip
//   midpoint -> shoulder midpoint) leans more than kFallTorsoDegrees from
//   vertical, or when the box's width/height > kFallAspect and the hips are
//   within kFallHipAnkleFraction x the box's longer side of the ankles' height.
//   Fallen for >= kFallSustainSeconds over >= 2 frames -> event (start = first
//   fallen frame); ends after kFallRecoverSeconds upright (end = first upright
//   frame) or when the track ends. Frames without usable keypoints change
//   nothing.
// - licence_plate: every reading of a track goes to a PlateReader (votes by
//   normalised text, only readings matching `pattern`); when the track ends (or
//   Finish) one event with the best reading (kNew then kEnd; start = the first
//   reading, end = the track's last_seen), and in `detail` the votes and, when a
//   known plate is within `max_distance` (OCR confusions O/0, I/1, ... count as
//   equal), {"known": entry, "distance": d}.
//
// Thread-compatible: one Rule per camera pipeline, called from its thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "pipeline/spec/spec.h"
#include "pipeline/types.h"

namespace heteroaccel::pipeline {

inline constexpr double kUpdateInterval = 1.0;  // seconds between kUpdates of an event
inline constexpr float kSnapshotGain = 0.05F;   // score gain that is worth a kUpdate
inline constexpr float kKeypointMinScore = 0.3F;
inline constexpr double kFallTorsoDegrees = 60;
inline constexpr double kFallAspect = 1.2;
inline constexpr double kFallHipAnkleFraction = 0.25;
inline constexpr double kFallSustainSeconds = 0.5;
inline constexpr double kFallRecoverSeconds = 1.0;

struct PlateText {
  std::string text;  // as OCR read it
  float confidence = 0;
};

// Second-stage results of this frame, per track id, and who the camera is.
struct RuleInputs {
  std::string camera;  // "" = the CameraSpec's id given to MakeRule
  std::string group;   // used when camera is set
  std::unordered_map<uint64_t, std::vector<Keypoint>> keypoints;  // pose crop_infer
  std::unordered_map<uint64_t, std::vector<PlateText>> texts;     // text crop_infer
  std::unordered_map<uint64_t, std::string> colours;              // colour block (latest)
};

struct RuleCounter {
  std::string name;
  uint64_t value = 0;
  friend bool operator==(const RuleCounter&, const RuleCounter&) = default;
};

class Rule {
 public:
  virtual ~Rule() = default;

  // One frame, in capture order. `tracks` is the tracker's whole list after the
  // frame; a track missing from it has ended.
  virtual void Observe(const FrameResult& frame, const std::vector<Track>& tracks,
                       const RuleInputs& extra, std::vector<Event>& out) = 0;
  // Ends every open event at `time` (and emits licence plates not yet sent).
  virtual void Finish(double time, std::vector<Event>& out) = 0;

  // Totals for metrics (line_crossing: "forward", "backward"); empty for others.
  virtual std::vector<RuleCounter> Counters() const { return {}; }
  // Events currently open (between kNew and kEnd).
  virtual size_t open_events() const = 0;
};

// The rule for one rule block of `camera` (IsRule(block.type)); InvalidArgument
// for other blocks or references the camera lacks (specs from ParseCameraSpec
// always have them).
absl::StatusOr<std::unique_ptr<Rule>> MakeRule(const CameraSpec& camera, const BlockSpec& block);

}  // namespace heteroaccel::pipeline

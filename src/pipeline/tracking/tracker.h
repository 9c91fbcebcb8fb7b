// Multi-object tracker for camera pipelines: turns each frame's detections into
// tracks with stable ids, in the ByteTrack family (Y. Zhang et al., "ByteTrack:
// Multi-Object Tracking by Associating Every Detection Box", ECCV 2022).
//
// Per frame (Update):
//   Step 1. Every track's constant-velocity Kalman filter (centre, aspect, height
//           and their rates) predicts its box at the frame's time. The step is
//           the time since the track's last frame, not one frame, so skipped
//           frames, `every: n` detection and timestamp jumps predict as far as
//           the object moved.
//   Step 2. High-score detections (score >= high_score) are matched to confirmed
//           tracks, live or lost, by IoU of the predicted box (>= iou).
//   Step 3. Low-score detections (low_score <= score < high_score), which are
//           often partly occluded objects, are matched to the confirmed tracks
//           left over that are not lost (IoU >= max(iou, low_iou)); they never
//           start tracks. This is ByteTrack's second association.
//   Step 4. High-score detections left over are matched to tentative tracks
//           (IoU >= iou); a tentative track that misses a frame is dropped.
//   Step 5. High-score detections still left start tentative tracks, confirmed
//           once matched in min_hits frames (min_hits 1: at once).
//   Step 6. Confirmed tracks left unmatched are lost: kept with their predicted
//           boxes until more than max_lost camera frames (frame_index difference)
//           or, when set, max_lost_seconds have passed since their last match;
//           then removed.
// Each association is a maximum-IoU assignment (dlib's Hungarian solver). With
// same_label, a detection only matches a track of its own label (a person
// never continues a car's track).
//
// Output: every live track (tentative, confirmed, lost), by id, with the
// Kalman-filtered box and `detection` set to the index of the detection it
// matched in this frame. Ids start at 1, are unique and never reused.
// Bounds: at most max_detections detections per frame (the highest scores) and
// max_tracks tracks (new ones are not started beyond it); detections whose box
// is empty or not finite are ignored. Times that go backwards predict no motion.
//
// Thread-compatible: one Tracker per camera pipeline, called from one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "pipeline/types.h"

namespace heteroaccel::pipeline {

namespace internal {
class BoxKalman;
}

struct TrackerOptions {
  int min_hits = 3;   // >= 1
  int max_lost = 30;  // frames, >= 0
  float iou = 0.3f;   // (0, 1]: IoU a match needs
  float high_score = 0.5f;
  float low_score = 0.1f;                  // [0, high_score]
  float low_iou = 0.5f;                    // low-score matches need max(iou, low_iou)
  std::optional<double> max_lost_seconds;  // > 0 when set
  bool same_label = true;
  size_t max_detections = 512;
  size_t max_tracks = 512;
};

class Tracker {
 public:
  // InvalidArgument naming the option when one is out of range.
  static absl::StatusOr<std::unique_ptr<Tracker>> Create(const TrackerOptions& options);
  ~Tracker();
  Tracker(const Tracker&) = delete;
  Tracker& operator=(const Tracker&) = delete;

  std::vector<Track> Update(const FrameResult& frame);

  size_t live_tracks() const { return tracks_.size(); }

 private:
  struct State;
  explicit Tracker(const TrackerOptions& options);

  void Predict(const FrameResult& frame);
  // Matches detections `dets` to tracks `trks` (indices into tracks_); records
  // matches and removes the matched entries from both lists.
  void Associate(const FrameResult& frame, std::vector<size_t>& dets, std::vector<size_t>& trks,
                 float min_iou);
  void Match(State& t, const FrameResult& frame, size_t det);
  void StartTrack(const FrameResult& frame, size_t det);
  void Age(const FrameResult& frame);

  TrackerOptions options_;
  std::vector<std::unique_ptr<State>> tracks_;  // by id
  uint64_t next_id_ = 1;
};

}  // namespace heteroaccel::pipeline

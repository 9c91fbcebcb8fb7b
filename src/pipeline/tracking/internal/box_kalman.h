// A constant-velocity Kalman filter on one box, for the tracker.
//
// State (cx, cy, a, h, vcx, vcy, va, vh): centre, aspect ratio w/h, height and
// their rates per second. Measurement (cx, cy, a, h). Noise scales with the
// box height as in DeepSORT/ByteTrack, so small and large objects are treated
// alike; process noise grows with the time step, which varies with the
// camera's frame times (skipped or dropped frames predict further).
// Owned by one track; thread-compatible.
#pragma once

#include <opencv2/video/tracking.hpp>

#include "pipeline/types.h"

namespace heteroaccel::pipeline::internal {

class BoxKalman {
 public:
  explicit BoxKalman(const Rect& box);

  // Moves the state `dt` seconds forward (dt <= 0 or non-finite: no motion).
  void Predict(double dt);
  // Folds in a measured box.
  void Correct(const Rect& box);
  // Stops the size changing (while a track is lost, its size is held).
  void FreezeSize();

  Rect box() const;  // the current state as a box

 private:
  void SetMeasurementNoise(double h);
  cv::KalmanFilter kf_;
};

}  // namespace heteroaccel::pipeline::internal

// Scripted scenes for testing trackers: ground-truth objects moving along
// piecewise-linear paths (straight, turning, crossing, stop-and-go, one hiding
// another), rendered into per-frame detections with the noise of a real
// detector (box jitter, dropouts, false positives, low scores), from a seed.
//
// Occlusion: an object's box is covered by the objects in front of it (the
// larger bottom edge is nearer the camera). Covered by more than
// `hidden_fraction` it is neither detected nor in the ground truth; partly
// covered (over `occluded_fraction`) it is detected with a low score in
// [low_score_min, low_score_max), as detectors do.
// Pure functions of their arguments; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/tracking/mot_metrics.h"
#include "pipeline/types.h"

namespace heteroaccel::pipeline::testing {

struct Waypoint {
  double t = 0;  // seconds
  Point centre;
};

struct ScriptedObject {
  uint64_t id = 0;  // ground-truth id
  std::string label = "person";
  float width = 40;
  float height = 80;
  // Linear between waypoints, sorted by t; absent before the first and after the last.
  std::vector<Waypoint> path;
};

struct SceneOptions {
  int width = 768;
  int height = 576;
  double fps = 10;
  int frames = 100;
  // Frames [from, to) not delivered at all: the next frame's time jumps.
  std::vector<std::pair<int, int>> gaps;
  double jitter_px = 0;     // sigma of Gaussian noise on each box edge
  double dropout = 0;       // probability a visible object is not detected
  double fp_per_frame = 0;  // mean false positives per frame (Poisson)
  double low_score_p = 0;   // probability a visible object scores low anyway
  float score_min = 0.6f;   // scores of clear detections: [score_min, 1)
  float low_score_min = 0.15f;
  float low_score_max = 0.45f;
  double occluded_fraction = 0.3;
  double hidden_fraction = 0.7;
  uint64_t seed = 1;
};

struct SyntheticScene {
  std::vector<FrameResult> frames;
  std::vector<std::vector<MotBox>> truth;  // per delivered frame
};

SyntheticScene RenderScene(const std::vector<ScriptedObject>& objects, const SceneOptions& options);

// Ground truth and a tracker's confirmed, matched tracks of one frame, as the
// metrics take them.
std::vector<MotBox> Hypotheses(const std::vector<Track>& tracks);

// Canned scripts over `seconds` at the default 768x576 frame.
std::vector<ScriptedObject> LinearScene(double seconds);     // 4 objects, straight lines
std::vector<ScriptedObject> TurningScene(double seconds);    // 2 objects turning corners
std::vector<ScriptedObject> CrossingScene(double seconds);   // 2 people crossing paths (X)
std::vector<ScriptedObject> StopAndGoScene(double seconds);  // walks, stands, walks
std::vector<ScriptedObject> OcclusionScene(double seconds);  // one passes behind another
std::vector<ScriptedObject> MixedScene(double seconds);      // all of the above together

}  // namespace heteroaccel::pipeline::testing

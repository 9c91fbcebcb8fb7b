// Synthetic camera scenes with exact ground truth: real image patches (sprites)
// moved along scripted paths over a real background, rendered frame by frame.
//
// An actor follows waypoints (camera time, bottom-centre anchor, height in
// pixels); between two waypoints position and height are interpolated linearly;
// two waypoints at the same place make it stand still; it is visible from its
// first waypoint's time to its last (it appears and disappears there). Actors
// are composited far to near (by the anchor's y: lower in the frame = nearer),
// so nearer actors hide farther ones. Every frame gets per-pixel sensor noise
// from a generator seeded by (scene seed, frame index): rendering is
// deterministic and frames can be rendered in any order.
//
// Ground truth per frame: each visible actor's box (the bounding box of its
// sprite's opaque pixels, clipped to the frame) and the fraction of those pixels
// not hidden by nearer actors.
// Plain values and pure functions; thread-compatible.
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "pipeline/types.h"
#include "scenes/sprites.h"

namespace heteroaccel::scenes {

struct Waypoint {
  double t = 0;  // seconds
  float x = 0;   // bottom-centre anchor, frame pixels
  float y = 0;
  float height = 0;  // the sprite's height in pixels (its width follows its aspect)
};

struct Actor {
  int id = 0;  // > 0, unique in the scene
  Sprite sprite;
  std::vector<Waypoint> path;  // increasing times; at least one
};

struct Scene {
  std::string name;
  cv::Mat background;  // CV_8UC3; the frame size
  double fps = 10;
  double duration = 10;  // seconds; frames 0 .. FrameCount()-1 at index / fps
  uint64_t seed = 1;
  double noise_sigma = 2;  // per-pixel Gaussian noise, grey levels
  std::vector<Actor> actors;

  int FrameCount() const;
  double FrameTime(int index) const { return index / fps; }
};

struct GtBox {
  int actor = 0;
  std::string label;
  pipeline::Rect box;
  float visible = 1;  // fraction of the actor's opaque pixels not hidden
};

struct GtFrame {
  int index = 0;
  double time = 0;
  std::vector<GtBox> boxes;  // in actor id order
};

// Where actor `a` is at time t: false when it is not visible then.
bool ActorAt(const Actor& a, double t, Waypoint& out);

// Frame `index` and its ground truth.
cv::Mat RenderFrame(const Scene& scene, int index, GtFrame* gt);

// Renders every frame to `path` (cv::VideoWriter, MJPG in .avi, at the scene's
// fps) and returns the ground truth of every frame. Internal error when the
// writer cannot open the path.
absl::StatusOr<std::vector<GtFrame>> RenderToFile(const Scene& scene, const std::string& path);

}  // namespace heteroaccel::scenes

// Sprites for synthetic camera scenes: real image patches with an alpha mask,
// cut from the test data `make setup` fetches into the models dir:
//   - the background: the per-pixel median of vtest.avi's frames (its people
//     removed), 768x576;
//   - people: pedestrians cut out of vtest.avi frames by their difference to
//     that background (the largest connected blob inside a hand-picked box);
//   - the astronaut (images/astronaut.png) and the cameraman (images/camera.png)
//     as rectangular person patches;
//   - a car: the car of video/licenseplate_motion.jpg (a rectangular patch);
//   - a left object: the cup of images/coffee.png. The object detector (SSD
//     MobileNetV2 on 24 Open Images classes) has no bag, suitcase or backpack
//     class, so abandoned-object scenes leave a "coffee cup" instead.
// Plain values; LoadSpriteLibrary is pure given the files (deterministic).
#pragma once

#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace heteroaccel::scenes {

struct Sprite {
  std::string name;   // "walker-0", "astronaut", "car", "cup", ...
  std::string label;  // the class the detector should find, lower case ("person")
  cv::Mat bgr;        // CV_8UC3
  cv::Mat alpha;      // CV_8UC1, same size; 255 = opaque; its bounding box is the whole patch
};

struct SpriteLibrary {
  cv::Mat background;           // CV_8UC3
  std::vector<Sprite> walkers;  // people cut from vtest.avi
  Sprite astronaut;
  Sprite cameraman;
  Sprite car;
  Sprite cup;
};

// Reads `models_dir`'s video/vtest.avi, video/licenseplate_motion.jpg and
// images/*.png. NotFound naming the file when one is missing.
absl::StatusOr<SpriteLibrary> LoadSpriteLibrary(const std::string& models_dir);

// The library loaded once per process from testing::ModelsDir() (the median
// background takes a second or two); aborts the test binary's expectations via
// the returned status when the files are missing.
absl::StatusOr<const SpriteLibrary*> SharedSpriteLibrary(const std::string& models_dir);

}  // namespace heteroaccel::scenes

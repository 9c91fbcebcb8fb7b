// Test helpers: where the test video and image are (models/video/, fetched by
// tools/setup/fetch_models.sh from Debian's opencv-doc), with gtest failures
// that say what is missing.
//
// Header-only and gtest-based: include from test sources only.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace heteroaccel::video::testing {

// $HETEROACCEL_MODELS_DIR, else $HETEROACCEL_SOURCE_DIR/models, else ./models.
inline std::string ModelsDir() {
  if (const char* dir = std::getenv("HETEROACCEL_MODELS_DIR"); dir != nullptr && *dir != 0) {
    return dir;
  }
  if (const char* src = std::getenv("HETEROACCEL_SOURCE_DIR"); src != nullptr && *src != 0) {
    return std::string(src) + "/models";
  }
  return "models";
}

// models/video/NAME; a test failure when it is missing.
inline std::string TestDataPath(const std::string& name) {
  std::string path = ModelsDir() + "/video/" + name;
  EXPECT_TRUE(std::filesystem::exists(path)) << path << " is missing; run `make setup`";
  return path;
}

// vtest.avi: 768x576, 10 fps, 795 frames (pedestrians; OpenCV's samples).
inline std::string TestVideoPath() { return TestDataPath("vtest.avi"); }
inline constexpr int kTestVideoFrames = 795;
inline constexpr double kTestVideoFps = 10;

}  // namespace heteroaccel::video::testing

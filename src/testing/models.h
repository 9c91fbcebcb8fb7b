// Test helpers for the model accuracy tests: the bundled test images and the
// catalog's models, with gtest failures that say what is missing.
//
// Header-only and gtest-based: include from test sources only.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <string_view>

#include "inference/catalog.h"
#include "testing/subprocess.h"

namespace heteroaccel::testing {

// models/images/NAME as BGR; a test failure when it is missing.
inline cv::Mat LoadImage(const std::string& name) {
  cv::Mat image = cv::imread(ModelsDir() + "/images/" + name, cv::IMREAD_COLOR);
  EXPECT_FALSE(image.empty()) << name << " is missing; run `make setup`";
  return image;
}

// The catalog's model of `type` (its default variant when `variant` is empty),
// built for `target`; nullptr (and a test failure) when that fails.
inline std::unique_ptr<inference::Model> LoadModel(
    std::string_view type, std::string_view variant = "",
    inference::Target target = inference::Target::kCpu) {
  auto spec = inference::Catalog::BuiltIn().Find(type, variant);
  EXPECT_TRUE(spec.ok()) << spec.status();
  if (!spec.ok()) return nullptr;
  auto model = (*spec)->create({ModelsDir(), target, -1});
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? std::move(*model) : nullptr;
}

}  // namespace heteroaccel::testing

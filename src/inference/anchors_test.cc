#include "inference/anchors.h"

#include <gtest/gtest.h>

#include <cmath>

namespace heteroaccel::inference {
namespace {

TEST(GenerateAnchorsTest, SsdMobileNetV2Has1917Anchors) {
  AnchorOptions o;
  o.input_width = o.input_height = 300;
  o.num_layers = 6;
  o.min_scale = 0.2f;
  o.max_scale = 0.95f;
  o.strides = {16, 32, 64, 128, 256, 512};
  o.aspect_ratios = {1.0f, 2.0f, 0.5f, 3.0f, 0.3333f};
  o.reduce_boxes_in_lowest_layer = true;
  const std::vector<Anchor> anchors = GenerateAnchors(o);
  ASSERT_EQ(anchors.size(), 1917u);
  // First cell of the 19x19 map: the reduced set (0.1 at ratio 1, then 0.2 at 2 and 0.5).
  EXPECT_FLOAT_EQ(anchors[0].x_center, 0.5f / 19);
  EXPECT_FLOAT_EQ(anchors[0].width, 0.1f);
  EXPECT_NEAR(anchors[1].width, 0.2f * std::sqrt(2.0f), 1e-6);
  // The last anchor is the interpolated one of the 1x1 map: sqrt(0.95 * 1.0).
  EXPECT_FLOAT_EQ(anchors.back().x_center, 0.5f);
  EXPECT_NEAR(anchors.back().width, std::sqrt(0.95f), 1e-6);
}

TEST(GenerateAnchorsTest, BlazeFaceMergesLayersWithEqualStride) {
  AnchorOptions o;
  o.input_width = o.input_height = 128;
  o.num_layers = 4;
  o.min_scale = 0.1484375f;
  o.max_scale = 0.75f;
  o.strides = {8, 16, 16, 16};
  o.aspect_ratios = {1.0f};
  o.fixed_anchor_size = true;
  const std::vector<Anchor> anchors = GenerateAnchors(o);
  ASSERT_EQ(anchors.size(), 896u);
  EXPECT_FLOAT_EQ(anchors[0].x_center, 0.5f / 16);
  EXPECT_FLOAT_EQ(anchors[1].x_center, 0.5f / 16);  // two anchors per 16x16 cell
  EXPECT_FLOAT_EQ(anchors[2].x_center, 1.5f / 16);
  EXPECT_FLOAT_EQ(anchors[512].x_center, 0.5f / 8);  // then six per 8x8 cell
  EXPECT_FLOAT_EQ(anchors[518].x_center, 1.5f / 8);
  EXPECT_FLOAT_EQ(anchors[512].width, 1.0f);
}

}  // namespace
}  // namespace heteroaccel::inference

namespace heteroaccel::inference {
namespace {

TEST(DecodeAnchorBoxesTest, OffsetsAreNetworkPixelsFromTheAnchorCentre) {
  const std::vector<Anchor> anchors = {{0.5f, 0.5f}, {0.25f, 0.25f}};
  // Row 0: box offset (10, 0), size 20x40, keypoint at (-10, 5); row 1: too unlikely.
  const float values[] = {10, 0, 20, 40, -10, 5, 0, 0, 0, 0, 0, 0};
  const float logits[] = {3.0f, -3.0f};
  Placement identity;
  identity.net_width = identity.net_height = 100;
  std::vector<Detection> out;
  DecodeAnchorBoxes(logits, values, 2, 6, anchors, 0, {100, 0.5f, "thing", {"tip"}}, identity, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NEAR(out[0].score, Sigmoid(3.0f), 1e-6);
  EXPECT_EQ(out[0].label, "thing");
  EXPECT_NEAR(out[0].box.x1, 50, 1e-4);
  EXPECT_NEAR(out[0].box.x2, 70, 1e-4);
  EXPECT_NEAR(out[0].box.y1, 30, 1e-4);
  EXPECT_NEAR(out[0].box.y2, 70, 1e-4);
  ASSERT_EQ(out[0].keypoints.size(), 1u);
  EXPECT_EQ(out[0].keypoints[0].name, "tip");
  EXPECT_NEAR(out[0].keypoints[0].x, 40, 1e-4);
  EXPECT_NEAR(out[0].keypoints[0].y, 55, 1e-4);
  // Rows map to anchors from `first` on.
  out.clear();
  DecodeAnchorBoxes(logits, values, 1, 6, anchors, 1, {100, 0.5f, "thing", {}}, identity, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NEAR(out[0].box.x1, 25, 1e-4);
}

TEST(SigmoidTest, IsTheLogisticFunctionAndSaturates) {
  EXPECT_FLOAT_EQ(Sigmoid(0), 0.5f);
  EXPECT_NEAR(Sigmoid(2), 1 / (1 + std::exp(-2.0f)), 1e-7);
  EXPECT_EQ(Sigmoid(-1000), Sigmoid(-100));
  EXPECT_FLOAT_EQ(Sigmoid(1000), 1.0f);
}

}  // namespace
}  // namespace heteroaccel::inference

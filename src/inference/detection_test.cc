#include "inference/detection.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace heteroaccel::inference {
namespace {

Detection Make(float x1, float y1, float x2, float y2, float score, int class_id = 0) {
  Detection d;
  d.box = {x1, y1, x2, y2};
  d.score = score;
  d.class_id = class_id;
  d.keypoints = {{"k", x1, y1}};
  return d;
}

TEST(SkeletonTest, NamesBecomeIndicesAndUnknownNamesAreRejected) {
  const std::vector<std::string> names = {"a", "b", "c"};
  EXPECT_EQ(SkeletonByName(names, {{"a", "b"}, {"c", "a"}}), (Skeleton{{0, 1}, {2, 0}}));
  EXPECT_THROW(SkeletonByName(names, {{"a", "d"}}), std::invalid_argument);
  EXPECT_EQ(QuadrilateralSkeleton().size(), QuadrilateralCornerNames().size());
}

TEST(DetectionTest, IntersectionOverUnion) {
  EXPECT_FLOAT_EQ(IntersectionOverUnion({0, 0, 10, 10}, {0, 0, 10, 10}), 1.0f);
  EXPECT_FLOAT_EQ(IntersectionOverUnion({0, 0, 10, 10}, {5, 0, 15, 10}), 50.0f / 150.0f);
  EXPECT_FLOAT_EQ(IntersectionOverUnion({0, 0, 10, 10}, {20, 20, 30, 30}), 0.0f);
}

TEST(NonMaxSuppressionTest, KeepsBestPerClusterAndClass) {
  auto kept = NonMaxSuppression({Make(0, 0, 10, 10, 0.6f), Make(1, 1, 11, 11, 0.9f),
                                 Make(1, 1, 11, 11, 0.8f, 1), Make(50, 50, 60, 60, 0.7f)},
                                0.5f, 10);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_FLOAT_EQ(kept[0].score, 0.9f);
  EXPECT_EQ(kept[1].class_id, 1);  // other class is not suppressed
  EXPECT_FLOAT_EQ(kept[2].score, 0.7f);
}

TEST(NonMaxSuppressionTest, HonoursMaxResults) {
  auto kept = NonMaxSuppression({Make(0, 0, 1, 1, 0.5f), Make(5, 5, 6, 6, 0.6f)}, 0.5f, 1);
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_FLOAT_EQ(kept[0].score, 0.6f);
}

TEST(WeightedNonMaxSuppressionTest, BlendsOverlappingBoxesByScore) {
  auto kept = WeightedNonMaxSuppression(
      {Make(0, 0, 10, 10, 0.75f), Make(2, 0, 12, 10, 0.25f), Make(40, 40, 50, 50, 0.5f)}, 0.3f, 10);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_FLOAT_EQ(kept[0].score, 0.75f);
  EXPECT_FLOAT_EQ(kept[0].box.x1, 0.5f);  // 0.75*0 + 0.25*2
  EXPECT_FLOAT_EQ(kept[0].keypoints[0].x, 0.5f);
  EXPECT_FLOAT_EQ(kept[1].box.x1, 40.0f);
}

TEST(DetectionTest, ClampToImage) {
  Detection d = Make(-5, -5, 200, 50, 1);
  ClampToImage(d, 100, 100);
  EXPECT_FLOAT_EQ(d.box.x1, 0);
  EXPECT_FLOAT_EQ(d.box.x2, 100);
  EXPECT_FLOAT_EQ(d.keypoints[0].y, 0);
}

}  // namespace
}  // namespace heteroaccel::inference

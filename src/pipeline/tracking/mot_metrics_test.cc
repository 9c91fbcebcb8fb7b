#include "pipeline/tracking/mot_metrics.h"

#include <gtest/gtest.h>

namespace heteroaccel::pipeline {
namespace {

const Rect kA{0, 0, 10, 10};
const Rect kB{100, 0, 110, 10};
const Rect kFar{50, 50, 60, 60};

TEST(MotAccumulatorTest, PerfectTrackingScoresOne) {
  MotAccumulator acc;
  for (int f = 0; f < 3; ++f) acc.AddFrame({{1, kA}, {2, kB}}, {{7, kA}, {9, kB}});
  const MotMetrics m = acc.Compute();
  EXPECT_EQ(m.gt, 6);
  EXPECT_EQ(m.matches, 6);
  EXPECT_DOUBLE_EQ(m.mota, 1.0);
  EXPECT_DOUBLE_EQ(m.motp, 1.0);
  EXPECT_DOUBLE_EQ(m.idf1, 1.0);
}

TEST(MotAccumulatorTest, CountsMissesFalsePositivesAndSwitches) {
  MotAccumulator acc;
  acc.AddFrame({{1, kA}, {2, kB}}, {{10, kA}, {20, kB}});
  acc.AddFrame({{1, kA}, {2, kB}}, {{10, kA}});                        // FN (2)
  acc.AddFrame({{1, kA}, {2, kB}}, {{10, kA}, {30, kB}, {40, kFar}});  // IDSW 2: 20->30, FP 40
  acc.AddFrame({{1, kA}}, {{10, kA}, {30, kB}});                       // FP 30
  const MotMetrics m = acc.Compute();
  EXPECT_EQ(m.frames, 4);
  EXPECT_EQ(m.gt, 7);
  EXPECT_EQ(m.hypotheses, 8);
  EXPECT_EQ(m.matches, 6);
  EXPECT_EQ(m.fn, 1);
  EXPECT_EQ(m.fp, 2);
  EXPECT_EQ(m.id_switches, 1);
  EXPECT_DOUBLE_EQ(m.mota, 1.0 - 4.0 / 7.0);
  EXPECT_DOUBLE_EQ(m.motp, 1.0);
  // Trajectories: 1<->10 overlap in 4 frames, 2<->20 and 2<->30 in one each.
  EXPECT_EQ(m.idtp, 5);
  EXPECT_EQ(m.idfn, 2);
  EXPECT_EQ(m.idfp, 3);
  EXPECT_DOUBLE_EQ(m.idf1, 10.0 / 15.0);
  EXPECT_DOUBLE_EQ(m.idp, 5.0 / 8.0);
  EXPECT_DOUBLE_EQ(m.idr, 5.0 / 7.0);
}

TEST(MotAccumulatorTest, KeepsPreviousCorrespondenceWhileValid) {
  const Rect a_shifted{1, 0, 11, 10};  // IoU with kA: 90 / 110
  MotAccumulator acc;
  acc.AddFrame({{1, kA}}, {{10, a_shifted}});
  // 20 fits better, but 10 still overlaps enough: no switch, 20 is a false positive.
  acc.AddFrame({{1, kA}}, {{10, a_shifted}, {20, kA}});
  const MotMetrics m = acc.Compute();
  EXPECT_EQ(m.id_switches, 0);
  EXPECT_EQ(m.fp, 1);
  EXPECT_DOUBLE_EQ(m.mota, 0.5);
  EXPECT_NEAR(m.motp, 90.0 / 110.0, 1e-6);
}

TEST(MotAccumulatorTest, IoUThresholdIsInclusive) {
  MotAccumulator acc;
  acc.AddFrame({{1, kA}}, {{10, Rect{0, 0, 10, 20}}});  // IoU 100/200 = 0.5: a match
  acc.AddFrame({{1, kA}}, {{10, Rect{0, 0, 10, 21}}});  // IoU 100/210: a miss and an FP
  const MotMetrics m = acc.Compute();
  EXPECT_EQ(m.matches, 1);
  EXPECT_EQ(m.fn, 1);
  EXPECT_EQ(m.fp, 1);
  EXPECT_DOUBLE_EQ(m.mota, 0.0);
  EXPECT_DOUBLE_EQ(m.motp, 0.5);
}

TEST(MotAccumulatorTest, Idf1AssignsTrajectoriesGlobally) {
  // Overlaps: (1,10) 3 frames, (1,20) 2, (2,10) 2. Greedy would pair 1 with 10 (IDTP 3);
  // the optimum pairs 1 with 20 and 2 with 10 (IDTP 4).
  MotAccumulator acc;
  for (int f = 0; f < 3; ++f) acc.AddFrame({{1, kA}}, {{10, kA}});
  for (int f = 0; f < 2; ++f) acc.AddFrame({{1, kA}}, {{20, kA}});
  for (int f = 0; f < 2; ++f) acc.AddFrame({{2, kB}}, {{10, kB}});
  const MotMetrics m = acc.Compute();
  EXPECT_EQ(m.idtp, 4);
  EXPECT_DOUBLE_EQ(m.idf1, 8.0 / 14.0);
  EXPECT_EQ(m.id_switches, 1);  // 1: 10 -> 20
  EXPECT_DOUBLE_EQ(m.mota, 1.0 - 1.0 / 7.0);
}

TEST(MotAccumulatorTest, EmptyInput) {
  MotAccumulator acc;
  acc.AddFrame({}, {});
  MotMetrics m = acc.Compute();
  EXPECT_DOUBLE_EQ(m.mota, 1.0);
  EXPECT_DOUBLE_EQ(m.idf1, 1.0);
  acc.AddFrame({}, {{1, kA}});
  m = acc.Compute();
  EXPECT_DOUBLE_EQ(m.mota, 0.0);
  EXPECT_DOUBLE_EQ(m.idf1, 0.0);
  EXPECT_EQ(m.fp, 1);
}

}  // namespace
}  // namespace heteroaccel::pipeline

#include "pipeline/tracking/internal/assignment.h"

#include <gtest/gtest.h>

#include <cmath>

namespace heteroaccel::pipeline::internal {
namespace {

using Pairs = std::vector<std::pair<size_t, size_t>>;

TEST(MaxScoreMatchingTest, MaximisesTheSumNotGreedily) {
  // Greedy would take (0,0)=0.9 and leave row 1 unmatched; the optimum is 0.8 + 0.7.
  EXPECT_EQ(MaxScoreMatching({0.9f, 0.8f, 0.7f, 0.0f}, 2, 2, 0.5f), (Pairs{{0, 1}, {1, 0}}));
}

TEST(MaxScoreMatchingTest, RespectsThresholdAndRectangularShapes) {
  // 2 rows x 3 columns; only pairs >= 0.3 allowed.
  EXPECT_EQ(MaxScoreMatching({0.1f, 0.2f, 0.6f, 0.25f, 0.35f, 0.9f}, 2, 3, 0.3f),
            (Pairs{{0, 2}, {1, 1}}));
  // 3 rows x 1 column.
  EXPECT_EQ(MaxScoreMatching({0.4f, 0.8f, 0.5f}, 3, 1, 0.3f), (Pairs{{1, 0}}));
  EXPECT_TRUE(MaxScoreMatching({0.1f, 0.2f}, 1, 2, 0.3f).empty());
  EXPECT_TRUE(MaxScoreMatching({}, 0, 5, 0.3f).empty());
  EXPECT_TRUE(MaxScoreMatching({0.9f}, 2, 2, 0.3f).empty());  // too few scores
  EXPECT_TRUE(MaxScoreMatching({NAN, -1.0f}, 1, 2, 0.0f).empty());
}

TEST(MaxWeightMatchingTest, IntegerWeights) {
  EXPECT_EQ(MaxWeightMatching({3, 2, 2, 0}, 2, 2), (Pairs{{0, 1}, {1, 0}}));
  EXPECT_EQ(MaxWeightMatching({0, 0, 0, 5}, 2, 2), (Pairs{{1, 1}}));
}

}  // namespace
}  // namespace heteroaccel::pipeline::internal

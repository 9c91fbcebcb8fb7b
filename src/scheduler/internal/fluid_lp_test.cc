#include "scheduler/internal/fluid_lp.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace heteroaccel::scheduler::internal {
namespace {

TEST(MaxMixRateTest, OneTypeSumsDeviceRates) {
  EXPECT_NEAR(MaxMixRate({1}, {{0.01, 0.1}}, {1, 2}), 100 + 20, 1e-9);
}

TEST(MaxMixRateTest, ATypeNoDeviceRunsMakesTheMixImpossible) {
  EXPECT_EQ(MaxMixRate({1, 1}, {{0.01}, {0}}, {1}), 0);
  EXPECT_EQ(MaxMixRate({1}, {{0.01}}, {0}), 0) << "no slots";
}

TEST(MaxMixRateTest, IgnoresTypesWithoutShare) {
  EXPECT_NEAR(MaxMixRate({1, 0}, {{0.01}, {0}}, {1}), 100, 1e-9);
}

TEST(MaxMixRateTest, SpecialisedDevicesEachServeTheirType) {
  // Device 0 runs only type 0 (100/s), device 1 only type 1 (50/s): an even mix is
  // limited by type 1, at 2 x 50.
  EXPECT_NEAR(MaxMixRate({1, 1}, {{0.01, 0}, {0, 0.02}}, {1, 1}), 100, 1e-9);
}

TEST(MaxMixRateTest, ComparativeAdvantageBeatsProportionalSplit) {
  // A: 1 ms / 5 ms, B: 10 ms / 10 ms for types 0 / 1, even mix. B should run only
  // type 1; the optimum is 500/s (a proportional split on each device gives 433/s).
  EXPECT_NEAR(MaxMixRate({1, 1}, {{0.001, 0.010}, {0.005, 0.010}}, {1, 1}), 500, 1e-6);
}

TEST(MaxMixRateTest, ManyDevicesAndTypes) {
  // Identical devices: the mix runs at slots / mean service time on each.
  std::vector<std::vector<double>> seconds(4, std::vector<double>(50, 0));
  for (int t = 0; t < 4; ++t) {
    for (int d = 0; d < 50; ++d) seconds[t][d] = 0.001 * (t + 1);
  }
  const double mean = 0.001 * (1 + 2 + 3 + 4) / 4;
  EXPECT_NEAR(MaxMixRate({1, 1, 1, 1}, seconds, std::vector<double>(50, 1)), 50 / mean, 1e-6);
}

TEST(SolveFluidTest, WasteMarksPairsTheOptimumKeepsForOtherTypes) {
  // Three devices, each 10 ms on its own type and 30 / 40 ms on the others.
  const std::vector<std::vector<double>> seconds = {
      {0.010, 0.040, 0.030}, {0.030, 0.010, 0.040}, {0.040, 0.030, 0.010}};
  FluidSolution s = SolveFluid({1, 1, 1}, seconds, {1, 1, 1});
  EXPECT_NEAR(s.rate, 300, 1e-6);
  ASSERT_EQ(s.waste.size(), 3u);
  // The even mix is degenerate (every device exactly full; the dual prices are not
  // unique), so, as the scheduler does, take the most each pair wastes over the
  // mixes with one type 25% heavier.
  for (size_t heavier = 0; heavier < 3; ++heavier) {
    std::vector<double> share = {1, 1, 1};
    share[heavier] = 1.25;
    const FluidSolution other = SolveFluid(share, seconds, {1, 1, 1});
    ASSERT_EQ(other.waste.size(), 3u);
    for (size_t t = 0; t < 3; ++t) {
      for (size_t d = 0; d < 3; ++d) s.waste[t][d] = std::max(s.waste[t][d], other.waste[t][d]);
    }
  }
  for (size_t t = 0; t < 3; ++t) {
    for (size_t d = 0; d < 3; ++d) {
      if (t == d) {
        EXPECT_NEAR(s.waste[t][d], 0, 1e-9) << t << " on " << d;
      } else {
        // A 10 ms unit of the type paid with 30-40 ms of a device worth as much.
        EXPECT_GT(s.waste[t][d], 0.5) << t << " on " << d;
      }
    }
  }
}

TEST(SolveFluidTest, InterchangeableTypesWasteNothing) {
  // Every type takes the same time on a device: any split is optimal.
  const std::vector<std::vector<double>> seconds = {{0.0757, 0.946, 11.658},
                                                    {0.0757, 0.946, 11.658}};
  const FluidSolution s = SolveFluid({1, 1}, seconds, {1, 3, 1});
  for (const auto& row : s.waste) {
    for (double w : row) EXPECT_NEAR(w, 0, 1e-9);
  }
}

TEST(SolveFluidTest, ComparativeAdvantage) {
  // A: 1 ms / 5 ms, B: 10 ms / 10 ms: B runs only type 1; type 0 on B wastes time.
  const FluidSolution s = SolveFluid({1, 1}, {{0.001, 0.010}, {0.005, 0.010}}, {1, 1});
  EXPECT_NEAR(s.rate, 500, 1e-6);
  EXPECT_NEAR(s.waste[0][0], 0, 1e-9);
  EXPECT_NEAR(s.waste[1][1], 0, 1e-9);
  EXPECT_GT(s.waste[0][1], 0.5);
  EXPECT_EQ(SolveFluid({1, 1}, {{0.01}, {0}}, {1}).waste.size(), 0u) << "impossible mix";
}

}  // namespace
}  // namespace heteroaccel::scheduler::internal

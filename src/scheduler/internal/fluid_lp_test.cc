#include "scheduler/internal/fluid_lp.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace heteroaccel::scheduler::internal

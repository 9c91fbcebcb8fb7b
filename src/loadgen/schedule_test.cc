#include "loadgen/schedule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace heteroaccel::loadgen {
namespace {

// Gaps between consecutive due times, in seconds.
std::vector<double> Gaps(StreamSchedule& schedule, int n) {
  std::vector<double> gaps;
  double previous = 0;
  for (int i = 0; i < n; ++i) {
    const double t = std::chrono::duration<double>(schedule.Next()).count();
    gaps.push_back(t - previous);
    previous = t;
  }
  return gaps;
}

double Mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

double CoefficientOfVariation(const std::vector<double>& v) {
  const double mean = Mean(v);
  double squares = 0;
  for (double x : v) squares += (x - mean) * (x - mean);
  return std::sqrt(squares / static_cast<double>(v.size())) / mean;
}

TEST(StreamScheduleTest, PeriodicStreamsAreStaggeredThenEvenlySpaced) {
  // 4 streams at 10 requests/s each: a 100 ms period, phases 0, 25, 50, 75 ms.
  for (uint64_t i = 0; i < 4; ++i) {
    StreamSchedule schedule(Arrivals::kPeriodic, 10, i, 4, /*seed=*/1);
    EXPECT_EQ(schedule.Next(), std::chrono::milliseconds(25 * i));
    EXPECT_EQ(schedule.Next(), std::chrono::milliseconds(25 * i + 100));
    EXPECT_EQ(schedule.Next(), std::chrono::milliseconds(25 * i + 200));
  }
}

TEST(StreamScheduleTest, PoissonGapsAreExponentialAtTheStreamsRate) {
  StreamSchedule schedule(Arrivals::kPoisson, 20, 3, 8, /*seed=*/7);
  const std::vector<double> gaps = Gaps(schedule, 20'000);
  // Mean 1 / rate; an exponential's standard deviation equals its mean. Over
  // 20,000 gaps the mean's standard error is 0.7%.
  EXPECT_NEAR(Mean(gaps), 0.05, 0.05 * 0.03);
  EXPECT_NEAR(CoefficientOfVariation(gaps), 1.0, 0.03);
  // Memoryless: P(gap > mean) = 1/e.
  int longer = 0;
  for (double g : gaps) longer += g > 0.05 ? 1 : 0;
  EXPECT_NEAR(longer / 20'000.0, std::exp(-1.0), 0.015);
}

TEST(StreamScheduleTest, ASeedRepeatsItsArrivalsAndStreamsDiffer) {
  StreamSchedule a(Arrivals::kPoisson, 5, 0, 2, 42);
  StreamSchedule b(Arrivals::kPoisson, 5, 0, 2, 42);
  StreamSchedule other_stream(Arrivals::kPoisson, 5, 1, 2, 42);
  StreamSchedule other_seed(Arrivals::kPoisson, 5, 0, 2, 43);
  const std::vector<double> first = Gaps(a, 100);
  EXPECT_EQ(first, Gaps(b, 100));
  EXPECT_NE(first, Gaps(other_stream, 100));
  EXPECT_NE(first, Gaps(other_seed, 100));
}

TEST(StreamScheduleTest, BurstsSendOnlyInTheirWindowsAtTheAverageRate) {
  // 100 ms on, 300 ms off (a period of 0.4 s, which no double holds exactly), at
  // 6 requests/s on average: 24/s while on.
  StreamSchedule schedule(Arrivals::kBursts, 6, 2, 6, /*seed=*/17, {100, 300});
  const int n = 24'000;
  double t = 0, previous = 0;
  std::vector<double> per_window;  // requests due in each 0.4 s period
  for (int i = 0; i < n; ++i) {
    t = std::chrono::duration<double>(schedule.Next()).count();
    ASSERT_GE(t, previous) << i;
    const double phase = std::fmod(t, 0.4);
    ASSERT_TRUE(phase <= 0.1 + 1e-9 || phase >= 0.4 - 1e-9) << "due in an off window at " << t;
    const auto window = static_cast<size_t>(t / 0.4 + 1e-9);
    if (per_window.size() <= window) per_window.resize(window + 1, 0);
    ++per_window[window];
    previous = t;
  }
  per_window.pop_back();  // the last window is cut short
  // 24,000 requests at 6/s: ~4,000 s; a Poisson count's relative error ~0.65%.
  EXPECT_NEAR(n / t, 6.0, 6.0 * 0.03);
  // Each window's count is Poisson at 24/s over 100 ms: mean 2.4 and variance
  // 2.4 (over ~10,000 windows, standard errors ~0.6% and ~1.5%).
  const double mean = Mean(per_window);
  const double cv = CoefficientOfVariation(per_window);
  EXPECT_NEAR(mean, 2.4, 2.4 * 0.03);
  EXPECT_NEAR(cv * cv * mean, 1.0, 0.06) << "variance / mean";
}

TEST(StreamScheduleTest, BurstSeedsRepeatAndEveryStreamKeepsTheSameWindows) {
  StreamSchedule a(Arrivals::kBursts, 4, 0, 3, 5, {250, 250});
  StreamSchedule b(Arrivals::kBursts, 4, 0, 3, 5, {250, 250});
  StreamSchedule other_stream(Arrivals::kBursts, 4, 1, 3, 5, {250, 250});
  const std::vector<double> first = Gaps(a, 200);
  EXPECT_EQ(first, Gaps(b, 200));
  EXPECT_NE(first, Gaps(other_stream, 200));
  for (int i = 0; i < 200; ++i) {
    const double t = std::chrono::duration<double>(other_stream.Next()).count();
    EXPECT_LE(std::fmod(t, 0.5), 0.25 + 1e-9) << t;
  }
}

}  // namespace
}  // namespace heteroaccel::loadgen

#include "testing/metrics_text.h"

#include <gtest/gtest.h>

namespace heteroaccel::testing {
namespace {

constexpr char kText[] =
    "# HELP a_seconds A histogram\n"
    "# TYPE a_seconds histogram\n"
    "a_seconds_bucket{device=\"gpu0\",le=\"0.1\"} 3\n"
    "a_seconds_sum{device=\"gpu0\"} 0.25\n"
    "a_seconds_count{device=\"gpu0\"} 4\n"
    "a_seconds_count{device=\"gpu01\"} 9\n"
    "xa_seconds_count{device=\"gpu1\"} 7\n"
    "b_total 1e-3";

TEST(MetricValueTest, ReadsTheSampleOfExactlyThatSeries) {
  EXPECT_EQ(MetricValue(kText, "a_seconds_sum{device=\"gpu0\"}"), 0.25);
  EXPECT_EQ(MetricValue(kText, "a_seconds_count{device=\"gpu0\"}"), 4.0);
  EXPECT_EQ(MetricValue(kText, "a_seconds_count{device=\"gpu01\"}"), 9.0);
  EXPECT_EQ(MetricValue(kText, "b_total"), 0.001);  // the last line, without a newline
}

TEST(MetricValueTest, APrefixOrAnotherNameEndingTheSameIsNotTheSeries) {
  EXPECT_EQ(MetricValue(kText, "a_seconds_count{device=\"gpu"), std::nullopt);
  EXPECT_EQ(MetricValue(kText, "a_seconds_count{device=\"gpu1\"}"), std::nullopt);
  EXPECT_EQ(MetricValue(kText, "a_seconds"), std::nullopt);  // only HELP/TYPE lines
  EXPECT_EQ(MetricValue("", "b_total"), std::nullopt);
  EXPECT_EQ(MetricValue("b_total x\n", "b_total"), std::nullopt);  // not a number
}

}  // namespace
}  // namespace heteroaccel::testing

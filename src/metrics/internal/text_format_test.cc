#include "metrics/internal/text_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace heteroaccel::metrics::internal {
namespace {

std::string Format(double v) {
  std::string out;
  AppendDouble(v, out);
  return out;
}

TEST(TextFormatTest, FormatsShortestRoundTrip) {
  EXPECT_EQ(Format(0.005), "0.005");
  EXPECT_EQ(Format(1.0), "1");
  EXPECT_EQ(Format(0.0), "0");
  EXPECT_EQ(Format(-2.5), "-2.5");
  EXPECT_EQ(Format(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(Format(123456789012.0), "123456789012");
  EXPECT_EQ(Format(1e6), "1e+06");
  EXPECT_EQ(Format(std::numeric_limits<double>::denorm_min()), "5e-324");
}

TEST(TextFormatTest, SpellsSpecialValuesAsPrometheusDoes) {
  EXPECT_EQ(Format(INFINITY), "+Inf");
  EXPECT_EQ(Format(-INFINITY), "-Inf");
  EXPECT_EQ(Format(std::nan("")), "NaN");
}

TEST(TextFormatTest, EscapesLabelValues) {
  std::string out;
  AppendEscapedLabelValue("a\\b\"c\nd'e", out);
  EXPECT_EQ(out, R"(a\\b\"c\nd'e)");
}

TEST(TextFormatTest, EscapesHelpButNotQuotes) {
  std::string out;
  AppendEscapedHelp("say \"hi\"\\\n", out);
  EXPECT_EQ(out, R"(say "hi"\\\n)");
}

TEST(TextFormatTest, ValidatesNames) {
  EXPECT_TRUE(IsValidMetricName("heteroaccel_requests_total"));
  EXPECT_TRUE(IsValidMetricName("job:rate5m"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_FALSE(IsValidMetricName("1abc"));
  EXPECT_FALSE(IsValidMetricName("a-b"));
  EXPECT_TRUE(IsValidLabelName("device"));
  EXPECT_TRUE(IsValidLabelName("_x1"));
  EXPECT_FALSE(IsValidLabelName("__name__"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
  EXPECT_FALSE(IsValidLabelName("9a"));
}

}  // namespace
}  // namespace heteroaccel::metrics::internal

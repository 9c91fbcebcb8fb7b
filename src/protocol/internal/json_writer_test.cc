#include "protocol/internal/json_writer.h"

#include <cmath>
#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "protocol/internal/fp16.h"

namespace heteroaccel::protocol::internal {
namespace {

std::string Str(std::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

template <typename T>
std::string Num(T v) {
  std::string out;
  AppendJsonNumber(&out, v);
  return out;
}

std::string Half(uint16_t bits) {
  std::string out;
  AppendJsonHalf(&out, bits);
  return out;
}

TEST(AppendJsonStringTest, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(Str("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(Str("\n\t\r\b\f"), R"("\n\t\r\b\f")");
  EXPECT_EQ(Str(std::string_view("\x00\x1f", 2)), R"("\u0000\u001f")");
  EXPECT_EQ(Str("\x7f"), "\"\x7f\"");
}

TEST(AppendJsonStringTest, KeepsValidUtf8AndReplacesInvalidSequences) {
  EXPECT_EQ(Str("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  EXPECT_EQ(Str("a\xffz"), R"("a\ufffdz")");
  EXPECT_EQ(Str("\xc0\xaf"), R"("\ufffd\ufffd")");                      // Overlong '/'.
  EXPECT_EQ(Str("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");            // Surrogate.
  EXPECT_EQ(Str("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")");  // > U+10FFFF.
  EXPECT_EQ(Str("\xe2\x82"), R"("\ufffd\ufffd")");                      // Truncated.
}

TEST(AppendJsonStringTest, OutputAlwaysParsesBackForEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  const std::string text = Str(all);
  const nlohmann::json parsed = nlohmann::json::parse(text);
  EXPECT_TRUE(parsed.is_string());
}

TEST(AppendJsonNumberTest, Float32UsesShortestRoundTripSpelling) {
  EXPECT_EQ(Num(0.1f), "0.1");
  EXPECT_EQ(Num(1.0f), "1");
  EXPECT_EQ(Num(-0.0f), "-0.0");
  EXPECT_EQ(Num(3.4028235e38f), "3.4028235e+38");
  EXPECT_EQ(Num(1e-45f), "1e-45");
  EXPECT_EQ(Num(0.1), "0.1");
}

TEST(AppendJsonNumberTest, NonFiniteBecomesNull) {
  EXPECT_EQ(Num(std::numeric_limits<float>::quiet_NaN()), "null");
  EXPECT_EQ(Num(-std::numeric_limits<float>::infinity()), "null");
  EXPECT_EQ(Num(std::numeric_limits<double>::infinity()), "null");
}

TEST(Fp16Test, KnownConversions) {
  EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(65519.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7c00);  // Ties to even: infinity.
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -25)), 0x0000);         // Tie to even zero.
  EXPECT_EQ(FloatToHalf(std::ldexp(3.0f, -25)), 0x0002);         // Tie to even two.
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // Tie down to even.
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(3.0f, -11)), 0x3c02);  // Tie up to even.
  EXPECT_EQ(HalfToFloat(0x3555), 0.333251953125f);
  EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(std::nanf("")))));
  // Double rounding trap: just above a tie must round up.
  EXPECT_EQ(DoubleToHalf(1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40)), 0x3c01);
}

TEST(Fp16Test, EveryHalfRoundTripsThroughFloatAndJsonText) {
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const auto h = static_cast<uint16_t>(bits);
    const float f = HalfToFloat(h);
    if (std::isnan(f)) continue;
    ASSERT_EQ(FloatToHalf(f), h) << bits;
    ASSERT_EQ(DoubleToHalf(f), h) << bits;
    if (!HalfIsFinite(h)) {
      EXPECT_EQ(Half(h), "null");
      continue;
    }
    const std::string text = Half(h);
    ASSERT_EQ(DoubleToHalf(nlohmann::json::parse(text).get<double>()), h)
        << bits << " printed as " << text;
  }
}

TEST(Fp16Test, JsonTextIsShort) {
  EXPECT_EQ(Half(FloatToHalf(0.1f)), "0.1");
  EXPECT_EQ(Half(0x3c00), "1");
  EXPECT_EQ(Half(FloatToHalf(1000.0f)), "1000");
  EXPECT_EQ(Half(0x7bff), "65500");
  EXPECT_EQ(Half(0x0001), "6e-08");
  EXPECT_EQ(Half(0x8000), "-0.0");
}

TEST(AppendJsonValueTest, ReplacesInvalidUtf8InsteadOfThrowing) {
  nlohmann::json j = {{"k", std::string("\xff")}};
  std::string out;
  AppendJsonValue(&out, j);
  EXPECT_EQ(out, "{\"k\":\"\xef\xbf\xbd\"}");
}

}  // namespace
}  // namespace heteroaccel::protocol::internal

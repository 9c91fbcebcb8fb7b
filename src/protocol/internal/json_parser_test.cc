#include "protocol/internal/json_parser.h"

#include <cmath>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace heteroaccel::protocol::internal {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

json Parse(std::string_view text) {
  absl::StatusOr<json> j = ParseJsonText(text, 32);
  EXPECT_TRUE(j.ok()) << text << ": " << j.status();
  return j.ok() ? *j : json();
}

std::string Error(std::string_view text, size_t depth = 32) {
  const absl::StatusOr<json> j = ParseJsonText(text, depth);
  EXPECT_FALSE(j.ok()) << "accepted: " << text;
  EXPECT_EQ(j.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(j.status().message());
}

// Both parsers must build the same DOM.
void ExpectSameAsNlohmann(std::string_view text) {
  EXPECT_EQ(Parse(text), json::parse(text)) << text;
}

TEST(ParseJsonTextTest, MatchesNlohmannOnAssortedDocuments) {
  ExpectSameAsNlohmann(R"({"a":[1,-2,3.5,-0.0,1e3,true,false,null,"s"],"b":{"c":{}},"d":[]})");
  ExpectSameAsNlohmann(" \t\r\n[ 1 , [ 2 ] , { \"k\" : \"v\" } ] \n");
  ExpectSameAsNlohmann(R"("\"\\\/\b\f\n\r\t\u0000\u00e9\u20ac\ud83d\ude00")");
  ExpectSameAsNlohmann("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");
  ExpectSameAsNlohmann(R"({"k":1,"k":2})");  // Last duplicate wins.
  ExpectSameAsNlohmann("\xef\xbb\xbf[1]");   // Leading BOM.
  ExpectSameAsNlohmann("42");
  ExpectSameAsNlohmann("[1e-400,-1e-400,5e-324,1.7976931348623157e308,0e99999]");
}

TEST(ParseJsonTextTest, NumberKindsFollowNlohmann) {
  const json j = Parse(
      "[0,-0,18446744073709551615,18446744073709551616,-9223372036854775808,"
      "-9223372036854775809,1.5,2e0]");
  EXPECT_TRUE(j[0].is_number_unsigned());
  EXPECT_TRUE(j[1].is_number_integer() && !j[1].is_number_unsigned());
  EXPECT_EQ(j[2].get<uint64_t>(), 18446744073709551615u);
  EXPECT_TRUE(j[3].is_number_float());
  EXPECT_EQ(j[4].get<int64_t>(), INT64_MIN);
  EXPECT_TRUE(j[5].is_number_float());
  EXPECT_TRUE(j[6].is_number_float());
  EXPECT_TRUE(j[7].is_number_float());
  EXPECT_TRUE(std::signbit(Parse("-1e-400").get<double>()));
}

TEST(ParseJsonTextTest, RejectsMalformedTextWithOffsets) {
  EXPECT_THAT(Error(""), HasSubstr("malformed JSON at byte offset 0: unexpected end of input"));
  EXPECT_THAT(Error("[1,]"), HasSubstr("byte offset 3: expected a value"));
  EXPECT_THAT(Error("[1 2]"), HasSubstr("expected ',' or ']' in an array"));
  EXPECT_THAT(Error(R"({"a" 1})"), HasSubstr("expected ':' after an object key"));
  EXPECT_THAT(Error("{1:2}"), HasSubstr("expected a string key"));
  EXPECT_THAT(Error(R"({"a":1,})"), HasSubstr("expected a string key"));
  EXPECT_THAT(Error("[1] x"), HasSubstr("byte offset 4: unexpected text after the JSON value"));
  EXPECT_THAT(Error(std::string_view("[1]\0", 4)), HasSubstr("unexpected text"));
  EXPECT_THAT(Error("tru"), HasSubstr("invalid literal"));
  EXPECT_THAT(Error("\"abc"), HasSubstr("unterminated string"));
  EXPECT_THAT(Error("\"a\nb\""), HasSubstr("control character in a string"));
  EXPECT_THAT(Error("\"\\x\""), HasSubstr("invalid escape"));
  EXPECT_THAT(Error("\"\\u12\""), HasSubstr("truncated \\u escape"));
  EXPECT_THAT(Error("\"\\u12g4\""), HasSubstr("invalid hex digit"));
  EXPECT_THAT(Error("\"\\ud800\""), HasSubstr("high surrogate without a low surrogate"));
  EXPECT_THAT(Error("\"\\ud800\\u0041\""), HasSubstr("high surrogate without a low surrogate"));
  EXPECT_THAT(Error("\"\\udc00\""), HasSubstr("unpaired low surrogate"));
  EXPECT_THAT(Error("\"\xff\""), HasSubstr("invalid UTF-8"));
  EXPECT_THAT(Error("\"\xc0\xaf\""), HasSubstr("invalid UTF-8"));
  EXPECT_THAT(Error("\xef\xbb"), HasSubstr("expected a value"));
}

TEST(ParseJsonTextTest, RejectsNumbersOutsideTheGrammar) {
  for (const char* bad :
       {"01", "-", "+1", ".5", "1.", "1e", "1e+", "-a", "0x10", "NaN", "Infinity", "1.5.2"}) {
    Error(bad);
  }
  EXPECT_THAT(Error("[1e400]"), HasSubstr("byte offset 1: number overflow"));
  EXPECT_THAT(Error("-123456789e999999999999999999"), HasSubstr("number overflow"));
}

TEST(ParseJsonTextTest, BoundsNesting) {
  EXPECT_TRUE(ParseJsonText("[[[]]]", 3).ok());
  EXPECT_THAT(Error("[[[[]]]]", 3),
              HasSubstr("JSON is nested deeper than 3 levels (at byte offset 3)"));
  EXPECT_THAT(Error(R"({"a":{"b":{"c":{}}}})", 3), HasSubstr("nested deeper than 3 levels"));
  EXPECT_TRUE(ParseJsonText("1", 0).ok());
  // A huge limit is clamped, so a hostile document cannot exhaust the stack.
  const std::string deep(1000000, '[');
  EXPECT_THAT(Error(deep, SIZE_MAX), HasSubstr("nested deeper than 1000 levels"));
}

}  // namespace
}  // namespace heteroaccel::protocol::internal

#include "protocol/internal/json_reader.h"

#include <cmath>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace heteroaccel::protocol::internal {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

absl::StatusOr<json> Read(std::string_view text, size_t depth = 32) {
  return ReadJson({text, 0}, depth);
}

json Parse(std::string_view text) {
  absl::StatusOr<json> j = Read(text);
  EXPECT_TRUE(j.ok()) << text << ": " << j.status();
  return j.ok() ? *j : json();
}

std::string Error(std::string_view text, size_t depth = 32) {
  const absl::StatusOr<json> j = Read(text, depth);
  EXPECT_FALSE(j.ok()) << "accepted: " << text;
  EXPECT_EQ(j.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(j.status().message());
}

// Both parsers must build the same DOM.
void ExpectSameAsNlohmann(std::string_view text) {
  EXPECT_EQ(Parse(text), json::parse(text)) << text;
}

TEST(ReadJsonTest, MatchesNlohmannOnAssortedDocuments) {
  ExpectSameAsNlohmann(R"({"a":[1,-2,3.5,-0.0,1e3,true,false,null,"s"],"b":{"c":{}},"d":[]})");
  ExpectSameAsNlohmann(" \t\r\n[ 1 , [ 2 ] , { \"k\" : \"v\" } ] \n");
  ExpectSameAsNlohmann(R"("\"\\\/\b\f\n\r\t\u0000\u00e9\u20ac\ud83d\ude00")");
  ExpectSameAsNlohmann("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");
  ExpectSameAsNlohmann(R"({"k":1,"k":2})");  // Last duplicate wins.
  ExpectSameAsNlohmann("\xef\xbb\xbf[1]");   // Leading BOM.
  ExpectSameAsNlohmann("42");
  ExpectSameAsNlohmann("[1e-400,-1e-400,5e-324,1.7976931348623157e308,0e99999]");
  // Integers beyond 64 bits: simdjson rejects them, nlohmann reads doubles.
  ExpectSameAsNlohmann(R"({"a":[18446744073709551616,-9223372036854775809,1]})");
}

TEST(ReadJsonTest, NumberKindsFollowNlohmann) {
  const json j = Parse(
      "[0,-0,18446744073709551615,18446744073709551616,-9223372036854775808,"
      "-9223372036854775809,1.5,2e0,-1]");
  EXPECT_TRUE(j[0].is_number_unsigned());
  // The one difference: nlohmann keeps -0 signed; it compares equal.
  EXPECT_EQ(j[1], json(0));
  EXPECT_EQ(j[2].get<uint64_t>(), 18446744073709551615u);
  EXPECT_TRUE(j[3].is_number_float());
  EXPECT_EQ(j[4].get<int64_t>(), INT64_MIN);
  EXPECT_TRUE(j[5].is_number_float());
  EXPECT_TRUE(j[6].is_number_float());
  EXPECT_TRUE(j[7].is_number_float());
  EXPECT_TRUE(j[8].is_number_integer() && !j[8].is_number_unsigned());
  EXPECT_TRUE(std::signbit(Parse("-1e-400").get<double>()));
}

TEST(ReadJsonTest, RejectsMalformedTextWithOffsetsAndReasons) {
  EXPECT_THAT(Error(""), HasSubstr("malformed JSON at byte offset 0: syntax error in value - "
                                   "unexpected end of input"));
  EXPECT_THAT(Error("[1,]"), HasSubstr("byte offset 3: syntax error in value - unexpected ']'"));
  EXPECT_THAT(Error("[1 2]"), HasSubstr("byte offset 3: syntax error in array - unexpected "
                                        "number literal; expected ']'"));
  EXPECT_THAT(Error(R"({"a" 1})"), HasSubstr("byte offset 5: syntax error in object separator"));
  EXPECT_THAT(Error("{1:2}"), HasSubstr("expected string literal"));
  EXPECT_THAT(Error(R"({"a":1,})"), HasSubstr("byte offset 7: syntax error in object key"));
  EXPECT_THAT(Error("[1] x"), HasSubstr("byte offset 4: syntax error in value - invalid "
                                        "literal; expected end of input"));
  EXPECT_THAT(Error(std::string_view("[1]\0", 4)), HasSubstr("byte offset 3: unexpected NUL byte"));
  EXPECT_THAT(Error(std::string_view("[1\0]", 4)), HasSubstr("byte offset 2: unexpected NUL byte"));
  EXPECT_THAT(Error("tru"), HasSubstr("invalid literal"));
  EXPECT_THAT(Error("\"abc"), HasSubstr("missing closing quote"));
  EXPECT_THAT(Error("\"a\nb\""), HasSubstr("byte offset 2: syntax error in value - invalid "
                                           "string: control character U+000A (LF) must be "
                                           "escaped"));
  EXPECT_THAT(Error("\"\\x\""), HasSubstr("forbidden character after backslash"));
  EXPECT_THAT(Error("\"\\u12\""), HasSubstr("'\\u' must be followed by 4 hex digits"));
  EXPECT_THAT(Error("\"\\u12g4\""), HasSubstr("'\\u' must be followed by 4 hex digits"));
  EXPECT_THAT(Error("\"\\ud800\""), HasSubstr("must be followed by U+DC00..U+DFFF"));
  EXPECT_THAT(Error("\"\\ud800\\u0041\""), HasSubstr("must be followed by U+DC00..U+DFFF"));
  EXPECT_THAT(Error("\"\\udc00\""), HasSubstr("U+DC00..U+DFFF must follow U+D800..U+DBFF"));
  EXPECT_THAT(Error("\"\xff\""), HasSubstr("byte offset 1: syntax error in value - invalid "
                                           "string: ill-formed UTF-8 byte"));
  EXPECT_THAT(Error("\"\xc0\xaf\""), HasSubstr("ill-formed UTF-8 byte"));
  EXPECT_THAT(Error("\xef\xbb"), HasSubstr("invalid BOM"));
}

TEST(ReadJsonTest, ErrorsDoNotQuoteLongTokens) {
  const std::string long_string = "[\"" + std::string(100000, 'a') + "\xff\"]";
  const std::string message = Error(long_string);
  EXPECT_THAT(message, HasSubstr("byte offset 100002: syntax error in value - invalid string: "
                                 "ill-formed UTF-8 byte"));
  EXPECT_LT(message.size(), 200u);
  EXPECT_LT(Error("[1e" + std::string(100000, '9') + "]").size(), 250u);
}

TEST(ReadJsonTest, RejectsNumbersOutsideTheGrammar) {
  for (const char* bad :
       {"01", "-", "+1", ".5", "1.", "1e", "1e+", "-a", "0x10", "NaN", "Infinity", "1.5.2"}) {
    Error(bad);
  }
  EXPECT_THAT(Error("[1e400]"), HasSubstr("byte offset 1: number overflow parsing '1e400'"));
  EXPECT_THAT(Error("-123456789e999999999999999999"), HasSubstr("byte offset 0: number overflow"));
}

TEST(ReadJsonTest, BoundsNesting) {
  EXPECT_TRUE(Read("[[[]]]", 3).ok());
  EXPECT_THAT(Error("[[[[]]]]", 3),
              HasSubstr("JSON is nested deeper than 3 levels (at byte offset 3)"));
  EXPECT_THAT(Error(R"({"a":{"b":{"c":{}}}})", 3),
              HasSubstr("JSON is nested deeper than 3 levels (at byte offset 15)"));
  EXPECT_THAT(Error(R"(["[[[[",{"]]]]":[[[]]]}])", 3),
              HasSubstr("JSON is nested deeper than 3 levels (at byte offset 17)"));
  EXPECT_TRUE(Read("1", 0).ok());
  EXPECT_THAT(Error("[]", 0), HasSubstr("nested deeper than 0 levels (at byte offset 0)"));
  // Past a number simdjson rejects, nlohmann's reading still bounds nesting.
  EXPECT_THAT(Error("[18446744073709551616,[[[]]]]", 3), HasSubstr("nested deeper than 3"));
  // A huge limit is clamped, so a hostile document cannot exhaust the stack.
  const std::string deep(1000000, '[');
  EXPECT_THAT(Error(deep, SIZE_MAX), HasSubstr("nested deeper than 1000 levels"));
}

TEST(ReadJsonTest, ReadsInPlaceWhenPaddedAndCopiesOtherwise) {
  // The bytes after the text are readable but must not change the result.
  const std::string buffer = std::string(R"({"a":[1,2,"x"]})") + std::string(64, '9');
  const std::string_view text(buffer.data(), 15);
  const json expected = json::parse(text);
  EXPECT_EQ(*ReadJson({text, 64}, 32), expected);
  EXPECT_EQ(*ReadJson({text, 0}, 32), expected);
  const std::string scalar = "12" + std::string(64, '3');
  EXPECT_EQ(*ReadJson({std::string_view(scalar.data(), 2), 64}, 32), json(12));
  const std::string open = "[1" + std::string(64, ']');
  EXPECT_FALSE(ReadJson({std::string_view(open.data(), 2), 64}, 32).ok());
}

}  // namespace
}  // namespace heteroaccel::protocol::internal

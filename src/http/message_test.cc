#include "http/message.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace heteroaccel::http {
namespace {

TEST(DefaultErrorResponseTest, IsValidJsonWhateverTheMessageHolds) {
  const std::string hostile[] = {
      std::string("no route for /\xff"),      // invalid byte
      std::string("no route for /\xc3\x28"),  // bad continuation
      std::string("truncated \xe2\x82"),      // sequence cut short
      std::string("overlong \xc0\xaf"),       // overlong '/'
      std::string("surrogate \xed\xa0\x80"),  // UTF-16 surrogate
      std::string("past U+10FFFF \xf4\x90\x80\x80"),
      std::string("nul \0 and \x01 \"quote\" \\", sizeof("nul \0 and \x01 \"quote\" \\") - 1),
  };
  for (const std::string& message : hostile) {
    const Response r = DefaultErrorResponse(404, message);
    EXPECT_EQ(r.status, 404);
    const nlohmann::json body = nlohmann::json::parse(r.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << r.body;
    EXPECT_TRUE(body["error"].is_string());
  }
}

TEST(DefaultErrorResponseTest, KeepsValidUtf8AndReplacesOnlyBadBytes) {
  const Response r = DefaultErrorResponse(400, "caf\xc3\xa9 \xff \xf0\x9f\x93\xb7");
  const nlohmann::json body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["error"], "caf\xc3\xa9 \xef\xbf\xbd \xf0\x9f\x93\xb7");
}

}  // namespace
}  // namespace heteroaccel::http

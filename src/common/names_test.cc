#include "common/names.h"

#include <gtest/gtest.h>

#include <string>

namespace heteroaccel {
namespace {

TEST(IsValidNameTest, LettersDigitsAndThreeMarksUpToTheLimit) {
  EXPECT_TRUE(IsValidName("gate_A.1-b", 64));
  EXPECT_TRUE(IsValidName(std::string(64, 'c'), 64));
  EXPECT_FALSE(IsValidName(std::string(65, 'c'), 64));
  EXPECT_FALSE(IsValidName("", 64));
  for (const char* bad : {"a b", "a/b", "a\\b", "..%2f", "cam\n", "caméra", "a:b", "a,b"}) {
    EXPECT_FALSE(IsValidName(bad, 64)) << bad;
  }
  static_assert(IsValidName("cam-0", kMaxNameLength));
}

}  // namespace
}  // namespace heteroaccel

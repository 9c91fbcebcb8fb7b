#include "pipeline/attributes/plate.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace heteroaccel::pipeline {
namespace {

TEST(NormalisePlateTest, UpperCasesAndStripsPunctuation) {
  EXPECT_EQ(NormalisePlate("ab 123-cd"), "AB123CD");
  EXPECT_EQ(NormalisePlate("  A.B_1\t2/3  "), "AB123");
  EXPECT_EQ(NormalisePlate("é€!"), "");
  EXPECT_EQ(NormalisePlate(""), "");
}

TEST(NormalisePlateTest, MapsConfusionsOnlyWhenAsked) {
  EXPECT_EQ(NormalisePlate("OB1S"), "OB1S");
  EXPECT_EQ(NormalisePlate("OB1S", true), "0815");
  // Readings differing only in confusable characters meet.
  EXPECT_EQ(NormalisePlate("AB123CD", true), NormalisePlate("A8I23C0", true));
  EXPECT_NE(NormalisePlate("AB123CD", true), NormalisePlate("AB123CE", true));
}

TEST(NormalisePlateTest, BoundsLength) {
  EXPECT_EQ(NormalisePlate(std::string(10000, 'a')).size(), 64u);
}

TEST(EditDistanceTest, Levenshtein) {
  EXPECT_EQ(EditDistance("", ""), 0);
  EXPECT_EQ(EditDistance("ABC", ""), 3);
  EXPECT_EQ(EditDistance("", "AB"), 2);
  EXPECT_EQ(EditDistance("AB123CD", "AB123CD"), 0);
  EXPECT_EQ(EditDistance("AB123CD", "AB128CD"), 1);   // substitute
  EXPECT_EQ(EditDistance("AB123CD", "AB123C"), 1);    // delete
  EXPECT_EQ(EditDistance("AB123CD", "XAB123CD"), 1);  // insert
  EXPECT_EQ(EditDistance("KITTEN", "SITTING"), 3);
  EXPECT_EQ(EditDistance("FLAW", "LAWN"), 2);
  EXPECT_EQ(EditDistance("SITTING", "KITTEN"), 3);  // symmetric
}

std::unique_ptr<PlateReader> MakeReader(PlateReaderOptions options = {}) {
  auto r = PlateReader::Create(options);
  EXPECT_TRUE(r.ok()) << r.status();
  return std::move(r).value();
}

TEST(PlateReaderTest, RejectsInvalidPattern) {
  auto r = PlateReader::Create({.pattern = "^[A-Z"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("not a valid regular expression"), std::string::npos);
}

TEST(PlateReaderTest, VotesByNormalisedTextWeightedByConfidence) {
  auto reader = MakeReader();
  EXPECT_TRUE(reader->Add(7, "ab 123-cd", 0.6f));
  EXPECT_TRUE(reader->Add(7, "A8123CD", 0.9f));
  EXPECT_TRUE(reader->Add(7, "AB123CD", 0.5f));
  const auto best = reader->Best(7);
  ASSERT_TRUE(best.has_value());
  EXPECT_EQ(best->text, "AB123CD");  // 7 x (0.6 + 0.5) = 7.7 beats 7 x 0.9 = 6.3
  EXPECT_EQ(best->votes, 2);
  EXPECT_NEAR(best->weight, 7.7, 1e-5);
  EXPECT_FLOAT_EQ(best->best_confidence, 0.6f);
}

TEST(PlateReaderTest, LongerReadingOutweighsTruncatedOneOfEqualConfidence) {
  auto reader = MakeReader();
  reader->Add(1, "AB123C", 0.8f);
  reader->Add(1, "AB123CD", 0.8f);
  EXPECT_EQ(reader->Best(1)->text, "AB123CD");
}

TEST(PlateReaderTest, IgnoresReadingsOffFormatOrWithoutConfidence) {
  auto reader = MakeReader();
  EXPECT_FALSE(reader->Add(1, "AB1", 0.99f));         // too short for ^[A-Z0-9]{5,8}$
  EXPECT_FALSE(reader->Add(1, "AB123CDEFG", 0.99f));  // too long
  EXPECT_FALSE(reader->Add(1, "--", 0.99f));
  EXPECT_FALSE(reader->Add(1, "AB123CD", 0.0f));
  EXPECT_FALSE(reader->Add(1, "AB123CD", std::nanf("")));
  EXPECT_FALSE(reader->Best(1).has_value());
  EXPECT_TRUE(reader->Add(1, "AB123CD", 2.0f));  // clamped to 1
  EXPECT_NEAR(reader->Best(1)->weight, 7.0, 1e-6);
}

TEST(PlateReaderTest, EmptyPatternAcceptsAnyNonEmptyReading) {
  auto reader = MakeReader({.pattern = ""});
  EXPECT_TRUE(reader->Add(1, "x", 0.5f));
  EXPECT_EQ(reader->Best(1)->text, "X");
}

TEST(PlateReaderTest, TracksAreSeparateAndForgotten) {
  auto reader = MakeReader();
  reader->Add(1, "AAAAA", 0.9f);
  reader->Add(2, "BBBBB", 0.9f);
  EXPECT_EQ(reader->Best(1)->text, "AAAAA");
  EXPECT_EQ(reader->Best(2)->text, "BBBBB");
  reader->Forget(1);
  EXPECT_FALSE(reader->Best(1).has_value());
  EXPECT_EQ(reader->tracks(), 1u);
}

TEST(PlateReaderTest, BoundsTracksAndCandidates) {
  auto reader = MakeReader({.max_tracks = 3, .max_candidates = 2});
  for (uint64_t t = 1; t <= 5; ++t) reader->Add(t, "AAAAA", 0.5f);
  EXPECT_EQ(reader->tracks(), 3u);
  EXPECT_FALSE(reader->Best(1).has_value());  // the oldest went first
  EXPECT_TRUE(reader->Best(5).has_value());

  reader->Add(9, "AAAAA", 0.9f);
  reader->Add(9, "BBBBB", 0.5f);
  reader->Add(9, "CCCCC", 0.1f);   // weaker than both kept: dropped
  reader->Add(9, "DDDDD", 0.95f);  // evicts BBBBB, the weakest
  reader->Add(9, "DDDDD", 0.95f);
  EXPECT_EQ(reader->Best(9)->text, "DDDDD");
  reader->Add(9, "BBBBB", 0.3f);  // weaker than both kept again
  EXPECT_EQ(reader->Best(9)->votes, 2);
}

TEST(MatchKnownTest, FindsClosestWithinDistance) {
  const std::vector<std::string> known = {"AB-123-CD", "XY987ZZ", "AB123CE"};
  auto m = MatchKnown("ab123cd", known, 1);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->entry, "AB-123-CD");  // exact beats the distance-1 entry
  EXPECT_EQ(m->distance, 0);

  m = MatchKnown("AB123CF", known, 1);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->entry, "AB-123-CD");  // tie at 1: the earlier entry
  EXPECT_EQ(m->distance, 1);

  EXPECT_FALSE(MatchKnown("QQ000QQ", known, 2).has_value());
  EXPECT_FALSE(MatchKnown("", known, 10).has_value());
  EXPECT_FALSE(MatchKnown("AB123CD", {}, 3).has_value());
  EXPECT_FALSE(MatchKnown("AB123CD", known, -1).has_value());
}

TEST(MatchKnownTest, ConfusionsCountAsEqualOnlyWhenAsked) {
  const std::vector<std::string> known = {"AB123CD"};
  EXPECT_FALSE(MatchKnown("A8I23C0", known, 1).has_value());  // three substitutions
  auto m = MatchKnown("A8I23C0", known, 0, /*map_confusions=*/true);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->distance, 0);
}

}  // namespace
}  // namespace heteroaccel::pipeline

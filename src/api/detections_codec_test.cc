#include "api/detections_codec.h"

#include <gtest/gtest.h>

namespace heteroaccel::api {
namespace {

inference::InferenceOutput Sample() {
  inference::Detection face;
  face.box = {10, 20, 30, 40};
  face.score = 0.75f;
  face.label = "face";
  face.keypoints = {{"a", 11, 21, 0.5f}, {"b", 12, 22}};
  inference::Detection other = face;
  other.text = "HELLO";
  other.class_id = 3;
  other.label = "other";
  return {{face, other}, 100, 80};
}

TEST(DetectionsCodecTest, TensorsRoundTrip) {
  const auto tensors = DetectionsToTensors(Sample(), 2);
  ASSERT_EQ(tensors.size(), DetectionOutputNames().size());
  EXPECT_EQ(tensors[0].shape, (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(tensors[4].shape, (std::vector<int64_t>{2, 2, 2}));
  auto back = DetectionsFromTensors(tensors, {"a", "b"});
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[1].label, "other");
  EXPECT_EQ((*back)[1].class_id, 3);
  EXPECT_FLOAT_EQ((*back)[0].box.y2, 40);
  EXPECT_EQ((*back)[0].keypoints[1].name, "b");
  EXPECT_FLOAT_EQ((*back)[0].keypoints[1].y, 22);
  EXPECT_FLOAT_EQ((*back)[0].keypoints[0].score, 0.5f);
  EXPECT_FLOAT_EQ((*back)[0].keypoints[1].score, 1.0f);
  EXPECT_EQ((*back)[0].text, "");
  EXPECT_EQ((*back)[1].text, "HELLO");
}

TEST(DetectionsCodecTest, OlderResponsesWithoutScoresOrTextsStillDecode) {
  auto tensors = DetectionsToTensors(Sample(), 2);
  tensors.resize(5);  // boxes .. keypoints only
  auto back = DetectionsFromTensors(tensors, {"a", "b"});
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_FLOAT_EQ((*back)[0].keypoints[0].score, 1.0f);
  EXPECT_EQ((*back)[1].text, "");
}

TEST(DetectionsCodecTest, EmptyResultHasZeroRows) {
  const auto tensors = DetectionsToTensors({{}, 10, 10}, 6);
  EXPECT_EQ(tensors[4].shape, (std::vector<int64_t>{0, 6, 2}));
  auto back = DetectionsFromTensors(tensors, {});
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->empty());
}

TEST(DetectionsCodecTest, MissingOutputsAreAnError) {
  auto tensors = DetectionsToTensors(Sample(), 2);
  tensors.erase(tensors.begin());
  EXPECT_EQ(DetectionsFromTensors(tensors, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DetectionsCodecTest, JsonRoundTrip) {
  const auto json = DetectionsToJson(Sample().detections);
  EXPECT_EQ(json[0]["box"]["x2"], 30.0);
  auto back = DetectionsFromJson(json);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ((*back)[0].keypoints.size(), 2u);
  EXPECT_FLOAT_EQ((*back)[0].keypoints[0].score, 0.5f);
  EXPECT_EQ((*back)[1].text, "HELLO");
  EXPECT_FALSE(json[0].contains("text"));
  EXPECT_EQ(DetectionsFromJson(nlohmann::json::parse(R"([{"label":"x"}])")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace heteroaccel::api

#include "protocol/metadata.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace heteroaccel::protocol {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

ModelMetadata Resnet() {
  ModelMetadata m;
  m.name = "resnet50";
  m.versions = {"1", "2"};
  m.platform = "onnxruntime_onnx";
  m.inputs = {{"image", DataType::kFp32, {-1, 3, 224, 224}, "NCHW, RGB"}};
  m.outputs = {{"probs", DataType::kFp32, {-1, 1000}, ""}};
  m.extra = {{"labels", {"cat", "dog"}}, {"devices", {"cpu:0", "gpu:0"}}};
  return m;
}

TEST(ModelMetadataTest, ToJsonWritesTheKserveShape) {
  const json j = ToJson(Resnet());
  EXPECT_EQ(j["name"], "resnet50");
  EXPECT_EQ(j["versions"], json({"1", "2"}));
  EXPECT_EQ(j["platform"], "onnxruntime_onnx");
  EXPECT_EQ(j["inputs"][0], json({{"name", "image"},
                                  {"datatype", "FP32"},
                                  {"shape", {-1, 3, 224, 224}},
                                  {"description", "NCHW, RGB"}}));
  EXPECT_FALSE(j["outputs"][0].contains("description"));
  EXPECT_EQ(j["labels"], json({"cat", "dog"}));
}

TEST(ModelMetadataTest, RoundTripsThroughJson) {
  const absl::StatusOr<ModelMetadata> back = ModelMetadataFromJson(ToJson(Resnet()));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, Resnet());
}

TEST(ModelMetadataTest, ExtraCannotOverrideStandardKeys) {
  ModelMetadata m = Resnet();
  m.extra["name"] = "spoofed";
  EXPECT_EQ(ToJson(m)["name"], "resnet50");
}

TEST(ModelMetadataTest, FromJsonRejectsBadFieldsNamingThem) {
  const auto message = [](const json& j) {
    return std::string(ModelMetadataFromJson(j).status().message());
  };
  EXPECT_THAT(message(json::array()), HasSubstr("must be a JSON object"));
  EXPECT_THAT(message({{"versions", {"1"}}}), HasSubstr("model metadata needs a string 'name'"));
  EXPECT_THAT(message({{"name", "m"}, {"versions", {1}}}), HasSubstr("array of strings"));
  EXPECT_THAT(
      message({{"name", "m"}, {"inputs", {{{"name", "x"}, {"datatype", "F32"}, {"shape", {1}}}}}}),
      HasSubstr("input 'x': unknown datatype 'F32'"));
  EXPECT_THAT(message({{"name", "m"},
                       {"outputs", {{{"name", "y"}, {"datatype", "FP32"}, {"shape", {-2}}}}}}),
              HasSubstr("output 'y': shape dimensions must be integers >= -1"));
  EXPECT_THAT(message({{"name", "m"}, {"inputs", {{{"datatype", "FP32"}}}}}),
              HasSubstr("input 0 needs a string 'name'"));
  EXPECT_EQ(ModelMetadataFromJson(json::array()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ServerMetadataTest, ListsNameVersionAndExtensions) {
  EXPECT_EQ(
      ServerMetadataJson("heteroaccel", "0.1.0", {"binary_tensor_data"}),
      json(
          {{"name", "heteroaccel"}, {"version", "0.1.0"}, {"extensions", {"binary_tensor_data"}}}));
}

}  // namespace
}  // namespace heteroaccel::protocol

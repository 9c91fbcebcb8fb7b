#include "protocol/tensor.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace heteroaccel::protocol {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(DataTypeTest, NamesRoundTripForEveryType) {
  const std::vector<std::pair<DataType, size_t>> all = {
      {DataType::kBool, 1},   {DataType::kUint8, 1}, {DataType::kUint16, 2}, {DataType::kUint32, 4},
      {DataType::kUint64, 8}, {DataType::kInt8, 1},  {DataType::kInt16, 2},  {DataType::kInt32, 4},
      {DataType::kInt64, 8},  {DataType::kFp16, 2},  {DataType::kFp32, 4},   {DataType::kFp64, 8},
      {DataType::kBytes, 0}};
  for (const auto& [type, size] : all) {
    const absl::StatusOr<DataType> parsed = ParseDataType(DataTypeName(type));
    ASSERT_TRUE(parsed.ok()) << DataTypeName(type);
    EXPECT_EQ(*parsed, type);
    EXPECT_EQ(ElementSize(type), size) << DataTypeName(type);
  }
  EXPECT_EQ(DataTypeName(DataType::kFp16), "FP16");
  EXPECT_EQ(DataTypeName(DataType::kBytes), "BYTES");
}

TEST(DataTypeTest, UnknownNameListsTheAcceptedOnes) {
  const absl::StatusOr<DataType> parsed = ParseDataType("fp32");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("unknown datatype 'fp32'"));
  EXPECT_THAT(parsed.status().message(), HasSubstr("FP32"));
}

TEST(TensorTest, ElementCountHandlesScalarsZerosNegativesAndOverflow) {
  Tensor t;
  EXPECT_EQ(t.ElementCount(), 1);  // Scalar.
  t.shape = {2, 3};
  EXPECT_EQ(t.ElementCount(), 6);
  t.shape = {0, -1};
  EXPECT_EQ(t.ElementCount(), std::nullopt);
  t.shape = {0, std::numeric_limits<int64_t>::max(), 4};
  EXPECT_EQ(t.ElementCount(), 0);
  t.shape = {std::numeric_limits<int64_t>::max(), 2};
  EXPECT_EQ(t.ElementCount(), std::nullopt);
  t.shape = {1 << 30, 1 << 30, 1 << 30};
  EXPECT_EQ(t.ElementCount(), std::nullopt);
}

TEST(TensorTest, ShapeStringAbbreviatesLongShapes) {
  EXPECT_EQ(ShapeString(std::vector<int64_t>{2, 3}), "[2,3]");
  EXPECT_EQ(ShapeString(std::vector<int64_t>{}), "[]");
  const std::vector<int64_t> longer(20, 1);
  EXPECT_THAT(ShapeString(longer), HasSubstr(",... (20 dims)]"));
}

TEST(TensorTest, FloatsRoundTripThroughBuilderAndReader) {
  const std::vector<float> values = {1.5f, -2.0f, 0.1f};
  const Tensor t = Tensor::FromFloats("x", {3}, values);
  EXPECT_EQ(t.datatype, DataType::kFp32);
  EXPECT_EQ(t.data.size(), 12u);
  const absl::StatusOr<std::vector<float>> back = t.Values<float>();
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, values);
}

TEST(TensorTest, Int32sAndBoolsRoundTrip) {
  const std::vector<int32_t> ints = {-7, 0, 2147483647};
  const Tensor t = Tensor::FromInt32s("i", {3}, ints);
  EXPECT_THAT(*t.Values<int32_t>(), ElementsAre(-7, 0, 2147483647));
  const bool bools[] = {true, false, true};
  const Tensor b = Tensor::FromValues<bool>("b", {3}, bools);
  EXPECT_EQ(b.data, std::string("\x01\x00\x01", 3));
  EXPECT_THAT(*b.Values<bool>(), ElementsAre(true, false, true));
}

TEST(TensorTest, ValuesRejectsWrongTypeAndWrongSize) {
  Tensor t = Tensor::FromFloats("x", {2}, std::vector<float>{1, 2});
  const absl::StatusOr<std::vector<int32_t>> wrong = t.Values<int32_t>();
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong.status().message(), HasSubstr("tensor 'x' is FP32, not INT32"));
  t.shape = {3};
  const absl::StatusOr<std::vector<float>> short_data = t.Values<float>();
  EXPECT_THAT(short_data.status().message(),
              HasSubstr("shape [3] FP32 needs 3 elements of 4 bytes, got 8 bytes"));
}

TEST(TensorTest, BytesRoundTripIncludingEmptyAndBinaryElements) {
  const std::vector<std::string> elements = {"hello", "", std::string("\0\xff\x01", 3)};
  const Tensor t = Tensor::FromBytes("s", elements);
  EXPECT_EQ(t.shape, std::vector<int64_t>{3});
  EXPECT_EQ(t.data.size(), 4u * 3 + 5 + 0 + 3);
  const absl::StatusOr<std::vector<std::string_view>> views = t.BytesElements();
  ASSERT_TRUE(views.ok()) << views.status();
  EXPECT_THAT(*views, ElementsAre("hello", "", std::string_view("\0\xff\x01", 3)));
}

TEST(TensorTest, OneBytesElementMatchesTheListBuilder) {
  const std::string image("\xff\xd8\xff\0jpeg", 8);
  const Tensor one = Tensor::FromBytesElement("image", image);
  const Tensor list = Tensor::FromBytes("image", {image});
  EXPECT_EQ(one.shape, std::vector<int64_t>{1});
  EXPECT_EQ(one.datatype, list.datatype);
  EXPECT_EQ(one.data, list.data);
  EXPECT_THAT(*one.BytesElements(), ElementsAre(std::string_view(image)));
}

TEST(TensorTest, BytesElementsRejectsBrokenFraming) {
  Tensor t = Tensor::FromBytes("s", {"abc"});
  t.data.pop_back();
  EXPECT_THAT(t.BytesElements().status().message(),
              HasSubstr("element 0 declares 3 bytes but only 2 remain"));
  t = Tensor::FromBytes("s", {"abc"});
  t.data.append("\x01\x00", 2);
  EXPECT_THAT(t.BytesElements().status().message(),
              HasSubstr("truncated 4-byte length prefix at byte offset 7"));
  t = Tensor::FromBytes("s", {"a", "b"});
  t.shape = {3};
  EXPECT_THAT(t.BytesElements().status().message(),
              HasSubstr("tensor 's': shape [3] needs 3 elements, got 2"));
  EXPECT_THAT(Tensor::FromFloats("f", {0}, {}).BytesElements().status().message(),
              HasSubstr("is FP32, not BYTES"));
}

TEST(TensorTest, ValidateTensorDataChecksBoolBytesAndNamesTheRole) {
  Tensor t;
  t.name = "mask";
  t.datatype = DataType::kBool;
  t.shape = {2};
  t.data = std::string("\x01\x02", 2);
  const absl::Status s = ValidateTensorData(t, "input");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("input 'mask': BOOL element 1 is byte 2, expected 0 or 1"));
  t.data = std::string("\x01\x00", 2);
  EXPECT_TRUE(ValidateTensorData(t).ok());
}

}  // namespace
}  // namespace heteroaccel::protocol

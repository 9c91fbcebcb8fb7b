#include "protocol/inference.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/internal/fp16.h"

namespace heteroaccel::protocol {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

template <typename T>
Tensor Make(std::string name, std::vector<int64_t> shape, std::vector<T> values) {
  return Tensor::FromValues<T>(std::move(name), std::move(shape), values);
}

// One tensor of every datatype, with values at the edges of each type's range.
std::vector<Tensor> OneOfEachType() {
  std::vector<Tensor> t;
  const bool bools[] = {true, false, true};
  t.push_back(Tensor::FromValues<bool>("bool", {3}, bools));
  t.push_back(Make<uint8_t>("u8", {3}, {0, 1, 255}));
  t.push_back(Make<uint16_t>("u16", {2}, {0, 65535}));
  t.push_back(Make<uint32_t>("u32", {2}, {0, 4294967295u}));
  t.push_back(Make<uint64_t>("u64", {2}, {0, std::numeric_limits<uint64_t>::max()}));
  t.push_back(Make<int8_t>("i8", {2}, {-128, 127}));
  t.push_back(Make<int16_t>("i16", {2}, {-32768, 32767}));
  t.push_back(Make<int32_t>("i32", {1, 2}, {std::numeric_limits<int32_t>::min(), 7}));
  t.push_back(Make<int64_t>(
      "i64", {2, 1}, {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()}));
  Tensor half;
  half.name = "f16";
  half.datatype = DataType::kFp16;
  half.shape = {4};
  for (float f : {0.1f, -65504.0f, 5.9604645e-08f, 0.0f}) {
    const uint16_t bits = internal::FloatToHalf(f);
    half.data.append(reinterpret_cast<const char*>(&bits), 2);
  }
  t.push_back(half);
  t.push_back(Make<float>("f32", {5}, {0.1f, -0.0f, 3.4028235e38f, 1e-45f, 123456.79f}));
  t.push_back(Make<double>("f64", {3}, {0.1, -1e308, 5e-324}));
  t.push_back(Tensor::FromBytes("bytes", {"hello", "", "caf\xc3\xa9", "\"quoted\"\n"}));
  Tensor scalar = Make<int32_t>("scalar", {}, {42});
  t.push_back(scalar);
  t.push_back(Make<float>("empty", {0, 3}, {}));
  return t;
}

InferRequest RequestWith(std::vector<Tensor> inputs) {
  InferRequest r;
  r.id = "req-1";
  r.inputs = std::move(inputs);
  return r;
}

absl::StatusOr<InferRequest> Parse(std::string_view json) {
  return ParseInferRequest(json, std::nullopt);
}

// Asserts the body is rejected with InvalidArgument mentioning `substring`.
void ExpectRejected(std::string_view body, std::optional<size_t> header,
                    std::string_view substring) {
  const absl::StatusOr<InferRequest> r = ParseInferRequest(body, header);
  ASSERT_FALSE(r.ok()) << "accepted: " << body;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr(substring)) << body;
}

void ExpectRejected(std::string_view body, std::string_view substring) {
  ExpectRejected(body, std::nullopt, substring);
}

std::string Le32(uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); }

class RoundTripTest : public ::testing::TestWithParam<bool> {};

TEST_P(RoundTripTest, RequestWithEveryDatatypeSurvivesEncodeAndParse) {
  const bool binary = GetParam();
  InferRequest request = RequestWith(OneOfEachType());
  request.parameters = {{"priority", 3}, {"tag", "x"}};
  request.outputs = {{"out_a", true}, {"out_b", false}};
  request.binary_output_default = true;
  const EncodedBody body = EncodeInferRequest(request, binary);
  EXPECT_EQ(body.json_header_length.has_value(), binary);
  EXPECT_EQ(body.content_type, binary ? kBinaryContentType : kJsonContentType);
  const absl::StatusOr<InferRequest> parsed = ParseInferRequest(body.body, body.json_header_length);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, request);
}

TEST_P(RoundTripTest, ResponseWithEveryDatatypeSurvivesEncodeAndParse) {
  const bool binary = GetParam();
  InferRequest request = RequestWith({Make<float>("x", {1}, {1})});
  request.binary_output_default = binary;
  InferResponse response;
  response.model_name = "resnet";
  response.model_version = "2";
  response.parameters = {{"device", "gpu:0"}};
  response.outputs = OneOfEachType();
  const EncodedBody body = EncodeInferResponse(response, request);
  const absl::StatusOr<InferResponse> parsed =
      ParseInferResponse(body.body, body.json_header_length);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  response.id = "req-1";  // Echoed from the request.
  EXPECT_EQ(*parsed, response);
}

INSTANTIATE_TEST_SUITE_P(JsonAndBinary, RoundTripTest, ::testing::Bool(),
                         [](const auto& param_info) {
                           return param_info.param ? "Binary" : "Json";
                         });

TEST(EncodeInferResponseTest, Float32JsonUsesShortestSpellingAndNullForNan) {
  InferResponse response;
  response.model_name = "m";
  response.outputs = {Make<float>("y", {3}, {0.1f, std::nanf(""), -INFINITY})};
  const EncodedBody body = EncodeInferResponse(response, RequestWith({}));
  EXPECT_THAT(body.body, HasSubstr(R"("data":[0.1,null,null])"));
  EXPECT_FALSE(body.json_header_length.has_value());
  const absl::StatusOr<InferResponse> parsed = ParseInferResponse(body.body, std::nullopt);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const std::vector<float> values = *parsed->outputs[0].Values<float>();
  EXPECT_EQ(values[0], 0.1f);
  EXPECT_TRUE(std::isnan(values[1]));
  EXPECT_TRUE(std::isnan(values[2]));
}

TEST(EncodeInferResponseTest, InvalidUtf8BytesAreReplacedInJsonButKeptInBinary) {
  InferResponse response;
  response.outputs = {Tensor::FromBytes("s", {"a\xff"})};
  InferRequest request = RequestWith({});
  EXPECT_THAT(EncodeInferResponse(response, request).body, HasSubstr(R"(["a\ufffd"])"));
  request.binary_output_default = true;
  const EncodedBody binary = EncodeInferResponse(response, request);
  EXPECT_EQ(ParseInferResponse(binary.body, binary.json_header_length)->outputs[0],
            response.outputs[0]);
}

TEST(EncodeInferResponseTest, MalformedTensorBytesAreWrittenUpToTheLastWholeElement) {
  Tensor t = Make<float>("y", {2}, {1.0f, 2.0f});
  t.data.pop_back();
  Tensor b = Tensor::FromBytes("s", {"ok", "broken"});
  b.data.pop_back();
  InferResponse response;
  response.outputs = {t, b};
  const std::string body = EncodeInferResponse(response, RequestWith({})).body;
  EXPECT_THAT(body, HasSubstr(R"("data":[1])"));
  EXPECT_THAT(body, HasSubstr(R"("data":["ok"])"));
}

TEST(ParseInferRequestTest, TritonStyleBinaryBytesImage) {
  const std::string image("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01", 12);
  const std::string header =
      R"({"id":"42","inputs":[{"name":"image","shape":[1],"datatype":"BYTES",)"
      R"("parameters":{"binary_data_size":16}}],)"
      R"("outputs":[{"name":"probs","parameters":{"binary_data":true}}]})";
  const std::string body = header + Le32(static_cast<uint32_t>(image.size())) + image;
  const absl::StatusOr<InferRequest> r = ParseInferRequest(body, header.size());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->id, "42");
  ASSERT_EQ(r->inputs.size(), 1u);
  EXPECT_EQ(r->inputs[0].datatype, DataType::kBytes);
  EXPECT_THAT(*r->inputs[0].BytesElements(), ElementsAre(image));
  ASSERT_EQ(r->outputs.size(), 1u);
  EXPECT_EQ(r->outputs[0], (RequestedOutput{"probs", true}));
}

TEST(ParseInferRequestTest, BinaryAndJsonInputsMixInOrder) {
  const std::string header =
      R"({"inputs":[{"name":"a","shape":[2],"datatype":"INT32","parameters":{"binary_data_size":8}},)"
      R"({"name":"b","shape":[1],"datatype":"FP32","data":[2.5]},)"
      R"({"name":"c","shape":[1],"datatype":"UINT8","parameters":{"binary_data_size":1}}]})";
  int32_t a[] = {1, -1};
  std::string body = header;
  body.append(reinterpret_cast<const char*>(a), sizeof(a));
  body.push_back('\x09');
  const absl::StatusOr<InferRequest> r = ParseInferRequest(body, header.size());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(*r->inputs[0].Values<int32_t>(), ElementsAre(1, -1));
  EXPECT_THAT(*r->inputs[1].Values<float>(), ElementsAre(2.5f));
  EXPECT_THAT(*r->inputs[2].Values<uint8_t>(), ElementsAre(9));
}

TEST(ParseInferRequestTest, AcceptsNestedDataIntegralFloatsAndFp16Numbers) {
  const absl::StatusOr<InferRequest> r =
      Parse(R"({"inputs":[{"name":"m","shape":[2,2],"datatype":"INT32","data":[[1,2.0],[3,4]]},)"
            R"({"name":"h","shape":[2],"datatype":"FP16","data":[0.5,65504]},)"
            R"({"name":"n","shape":[1],"datatype":"FP64","data":[null]}]})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(*r->inputs[0].Values<int32_t>(), ElementsAre(1, 2, 3, 4));
  uint16_t h[2];
  std::memcpy(h, r->inputs[1].data.data(), 4);
  EXPECT_EQ(h[0], 0x3800);
  EXPECT_EQ(h[1], 0x7bff);
  EXPECT_TRUE(std::isnan((*r->inputs[2].Values<double>())[0]));
}

TEST(ParseInferRequestTest, BinaryDataOutputSetsTheDefaultAndLeavesOtherParameters) {
  const absl::StatusOr<InferRequest> r =
      Parse(R"({"parameters":{"binary_data_output":true,"k":1},)"
            R"("inputs":[{"name":"x","shape":[1],"datatype":"BOOL","data":[true]}],)"
            R"("outputs":[{"name":"a"},{"name":"b","parameters":{"binary_data":false}}]})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->binary_output_default);
  EXPECT_EQ(r->parameters, (nlohmann::json{{"k", 1}}));
  EXPECT_THAT(r->outputs, ElementsAre(RequestedOutput{"a", true}, RequestedOutput{"b", false}));
}

TEST(ParseInferRequestTest, RejectsMalformedJson) {
  ExpectRejected(R"({"inputs": [)", "malformed JSON");
  ExpectRejected("", "malformed JSON");
  ExpectRejected("\xff\xfe", "malformed JSON");
  ExpectRejected("[1,2]", "request body must be a JSON object");
  // Where and what, from a binary body's JSON header too.
  ExpectRejected(R"({"inputs": [)",
                 "malformed JSON at byte offset 12: syntax error in value - unexpected end of "
                 "input; expected '[', '{', or a literal");
  const std::string header = R"({"inputs":[{"name":"x",}]})";
  ExpectRejected(header + std::string(100, '\0'), header.size(),
                 "malformed JSON at byte offset 23: syntax error in object key - unexpected '}'");
}

TEST(ParseInferRequestTest, ReadsTheJsonInPlaceOrFromACopyAlike) {
  const std::string json = R"({"id":"a","inputs":[{"name":"x","shape":[2],"datatype":"FP64",)"
                           R"("data":[1.5,18446744073709551616]}]})";
  // Spare capacity holding digits that must not be read as part of the JSON.
  std::string padded = json + std::string(2 * kBodyReadPadding, '9');
  padded.resize(json.size());
  ASSERT_GE(padded.capacity() - padded.size(), kBodyReadPadding);
  const absl::StatusOr<InferRequest> in_place = ParseInferRequest(padded, std::nullopt);
  const absl::StatusOr<InferRequest> copied = Parse(json);
  ASSERT_TRUE(in_place.ok()) << in_place.status();
  ASSERT_TRUE(copied.ok()) << copied.status();
  EXPECT_EQ(*in_place, *copied);
  // Integers beyond 64 bits read as doubles, as nlohmann reads them.
  EXPECT_THAT(*copied->inputs[0].Values<double>(), ElementsAre(1.5, 18446744073709551616.0));
  padded.resize(json.size() - 1);  // Now missing its last '}', with digits after it.
  EXPECT_THAT(ParseInferRequest(padded, std::nullopt).status().message(),
              HasSubstr("malformed JSON at byte offset 97: syntax error in object - unexpected "
                        "end of input"));
}

TEST(ParseInferRequestTest, RejectsMissingOrEmptyInputs) {
  ExpectRejected("{}", "non-empty 'inputs' array");
  ExpectRejected(R"({"inputs":[]})", "non-empty 'inputs' array");
  ExpectRejected(R"({"inputs":{}})", "non-empty 'inputs' array");
  ExpectRejected(R"({"inputs":[1]})", "input 0 must be a JSON object");
  ExpectRejected(R"({"inputs":[{"shape":[1]}]})", "input 0 needs a non-empty string 'name'");
  ExpectRejected(R"({"id":7,"inputs":[]})", "request 'id' must be a string");
}

TEST(ParseInferRequestTest, RejectsWrongDatatype) {
  ExpectRejected(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP33","data":[1]}]})",
                 "input 'x': unknown datatype 'FP33'");
  ExpectRejected(R"({"inputs":[{"name":"x","shape":[1],"data":[1]}]})",
                 "input 'x' needs a string 'datatype'");
}

TEST(ParseInferRequestTest, RejectsShapeDataMismatch) {
  ExpectRejected(
      R"({"inputs":[{"name":"image","shape":[2,3],"datatype":"FP32","data":[1,2,3,4,5]}]})",
      "input 'image': shape [2,3] needs 6 elements, got 5");
  ExpectRejected(R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[[1],[2,3]]}]})",
                 "shape [2] needs 2 elements, got 3");
  ExpectRejected(R"({"inputs":[{"name":"x","shape":[1,-2],"datatype":"FP32","data":[]}]})",
                 "input 'x': shape [1,-2] has a negative dimension");
  ExpectRejected(R"({"inputs":[{"name":"x","shape":[1.5],"datatype":"FP32","data":[]}]})",
                 "'shape' must be an array of non-negative integers");
  ExpectRejected(R"({"inputs":[{"name":"x","datatype":"FP32","data":[]}]})",
                 "input 'x' needs a 'shape' array");
  ExpectRejected(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32"}]})",
                 "input 'x' has no 'data' and no parameters.binary_data_size");
  ExpectRejected(
      R"({"inputs":[{"name":"x","shape":[4611686018427387904,4],"datatype":"FP32","data":[]}]})",
      "negative dimension or too many elements");
  ExpectRejected(R"({"inputs":[{"name":"x","shape":[1099511627776],"datatype":"FP32","data":[]}]})",
                 "has 1099511627776 elements, more than the limit of 67108864");
}

TEST(ParseInferRequestTest, RejectsBinarySizeMismatches) {
  const std::string header =
      R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]})";
  const std::string eight(8, '\0');
  ExpectRejected(header + eight.substr(0, 4), header.size(),
                 "input 'x': binary_data_size 8 is more than the 4 bytes left");
  ExpectRejected(header + eight + "xx", header.size(), "the binary section has 2 bytes left over");
  ExpectRejected(header, std::nullopt, "but the body has no binary section");
  ExpectRejected(header, header.size() + 1,
                 "Inference-Header-Content-Length " + std::to_string(header.size() + 1) +
                     " is larger than the " + std::to_string(header.size()) + "-byte body");
  const std::string wrong =
      R"({"inputs":[{"name":"x","shape":[2,3],"datatype":"FP32","parameters":{"binary_data_size":20}}]})";
  ExpectRejected(wrong + std::string(20, '\0'), wrong.size(),
                 "input 'x': shape [2,3] FP32 needs 6 elements of 4 bytes, got 20 bytes");
  const std::string both =
      R"({"inputs":[{"name":"x","shape":[1],"datatype":"UINT8","data":[1],"parameters":{"binary_data_size":1}}]})";
  ExpectRejected(both + "\x01", both.size(), "has both 'data' and parameters.binary_data_size");
  const std::string negative =
      R"({"inputs":[{"name":"x","shape":[1],"datatype":"UINT8","parameters":{"binary_data_size":-1}}]})";
  ExpectRejected(negative, negative.size(), "binary_data_size must be a non-negative integer");
}

TEST(ParseInferRequestTest, RejectsBrokenBinaryBytesAndBoolFraming) {
  const std::string bytes_header =
      R"({"inputs":[{"name":"s","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":6}}]})";
  ExpectRejected(bytes_header + Le32(5) + "ab", bytes_header.size(),
                 "input 's': BYTES element 0 declares 5 bytes but only 2 remain");
  const std::string bool_header =
      R"({"inputs":[{"name":"b","shape":[1],"datatype":"BOOL","parameters":{"binary_data_size":1}}]})";
  ExpectRejected(bool_header + "\x02", bool_header.size(), "input 'b': BOOL element 0 is byte 2");
}

TEST(ParseInferRequestTest, RejectsOutOfRangeAndMistypedValues) {
  const auto input = [](std::string_view type, std::string_view data) {
    return std::string(R"({"inputs":[{"name":"v","shape":[2],"datatype":")") + std::string(type) +
           R"(","data":)" + std::string(data) + "}]}";
  };
  ExpectRejected(input("UINT8", "[1,300]"),
                 "input 'v': data element 1 (300) is out of range for UINT8");
  ExpectRejected(input("INT8", "[-129,0]"), "data element 0 (-129) is out of range for INT8");
  ExpectRejected(input("UINT64", "[0,-1]"), "out of range for UINT64");
  ExpectRejected(input("INT64", "[0,9223372036854775808]"), "out of range for INT64");
  ExpectRejected(input("UINT64", "[0,1e20]"), "out of range for UINT64");
  ExpectRejected(input("FP32", "[0,1e39]"), "out of range for FP32");
  ExpectRejected(input("FP32", "[0,-3.4028236e38]"), "out of range for FP32");
  EXPECT_TRUE(Parse(input("FP32", "[3.4028235e38,-3.4028235e38]")).ok());
  ExpectRejected(input("FP16", "[0,65520]"), "out of range for FP16");
  ExpectRejected(input("FP64", "[0,1e999]"), "number overflow");
  ExpectRejected(input("INT32", "[1.5,2]"),
                 "data element 0 (1.5) is not an integer, as INT32 requires");
  ExpectRejected(input("FP32", R"([1,"abc"])"),
                 "data element 1 is a string, expected a number for FP32");
  ExpectRejected(input("BOOL", "[true,1]"),
                 "data element 1 is a number, expected true or false for BOOL");
  ExpectRejected(input("BYTES", R"(["a",{}])"),
                 "data element 1 is an object, expected a string for BYTES");
  ExpectRejected(input("INT32", "[1,null]"),
                 "data element 1 is null, expected an integer for INT32");
}

TEST(ParseInferRequestTest, RejectsDuplicateNames) {
  ExpectRejected(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]},)"
                 R"({"name":"x","shape":[1],"datatype":"FP32","data":[2]}]})",
                 "duplicate input name 'x'");
  ExpectRejected(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],)"
                 R"("outputs":[{"name":"y"},{"name":"y"}]})",
                 "output 'y' is requested twice");
}

TEST(ParseInferRequestTest, RejectsBadParameters) {
  ExpectRejected(R"({"parameters":{"binary_data_output":"yes"},)"
                 R"("inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]})",
                 "request parameters.binary_data_output must be true or false");
  ExpectRejected(
      R"({"parameters":[],"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]})",
      "request 'parameters' must be a JSON object");
  ExpectRejected(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],)"
                 R"("outputs":[{"name":"y","parameters":{"binary_data":1}}]})",
                 "requested output 'y': parameters.binary_data must be true or false");
}

TEST(ParseInferRequestTest, RejectsTooDeepJsonAndTooManyTensors) {
  std::string deep = R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":)";
  deep += std::string(40, '[') + "1" + std::string(40, ']') + "}]}";
  ExpectRejected(deep, "JSON is nested deeper than 32 levels");
  ExpectRejected(std::string(100000, '['), "JSON is nested deeper than 32 levels");
  // Brackets inside strings do not count.
  const std::string in_string =
      R"({"id":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",)"
      R"("inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]})";
  EXPECT_TRUE(Parse(in_string).ok()) << Parse(in_string).status();

  std::string many = R"({"inputs":[)";
  for (int i = 0; i < 3; ++i) {
    many += (i ? "," : "") + std::string(R"({"name":"x)") + std::to_string(i) +
            R"(","shape":[1],"datatype":"FP32","data":[1]})";
  }
  many += "]}";
  Limits limits;
  limits.max_tensors = 2;
  const absl::StatusOr<InferRequest> r = ParseInferRequest(many, std::nullopt, limits);
  EXPECT_THAT(r.status().message(), HasSubstr("body has 3 inputs, more than the limit of 2"));
}

TEST(RequestedOutputsTest, OnlyRequestedOutputsAreReturnedInRequestOrder) {
  InferResponse response;
  response.model_name = "m";
  response.outputs = {Make<float>("a", {1}, {1}), Make<float>("b", {1}, {2}),
                      Make<float>("c", {1}, {3})};
  InferRequest request = RequestWith({});
  request.outputs = {{"c", false}, {"a", true}};
  const EncodedBody body = EncodeInferResponse(response, request);
  ASSERT_TRUE(body.json_header_length.has_value());
  EXPECT_EQ(body.content_type, kBinaryContentType);
  const std::string_view header = std::string_view(body.body).substr(0, *body.json_header_length);
  EXPECT_THAT(std::string(header), Not(HasSubstr(R"("name":"b")")));
  const absl::StatusOr<InferResponse> parsed =
      ParseInferResponse(body.body, body.json_header_length);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->outputs.size(), 2u);
  EXPECT_EQ(parsed->outputs[0], response.outputs[2]);
  EXPECT_EQ(parsed->outputs[1], response.outputs[0]);
  EXPECT_THAT(std::string(header),
              HasSubstr(R"("name":"c","datatype":"FP32","shape":[1],"data":[3])"));
  EXPECT_THAT(std::string(header), HasSubstr(R"("parameters":{"binary_data_size":4})"));
}

TEST(RequestedOutputsTest, NoRequestedOutputsReturnsAllAsJson) {
  InferResponse response;
  response.model_name = "m";
  response.id = "own-id";
  response.outputs = {Make<int32_t>("a", {1}, {1}), Make<int32_t>("b", {1}, {2})};
  const EncodedBody body = EncodeInferResponse(response, RequestWith({}));
  EXPECT_EQ(body.content_type, kJsonContentType);
  EXPECT_FALSE(body.json_header_length.has_value());
  EXPECT_EQ(body.body, R"({"model_name":"m","id":"own-id","outputs":[)"
                       R"({"name":"a","datatype":"INT32","shape":[1],"data":[1]},)"
                       R"({"name":"b","datatype":"INT32","shape":[1],"data":[2]}]})");
}

TEST(RequestedOutputsTest, ValidateNamesTheUnknownOutputAndTheAvailableOnes) {
  InferRequest request = RequestWith({});
  request.outputs = {{"a", false}, {"x", false}};
  const absl::Status s = ValidateRequestedOutputs(request, {"a", "b"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "unknown output 'x'; the model has: a, b");
  request.outputs.pop_back();
  EXPECT_TRUE(ValidateRequestedOutputs(request, {"a", "b"}).ok());
}

TEST(ParseInferResponseTest, ErrorBodyCarriesTheServerMessage) {
  const absl::StatusOr<InferResponse> r =
      ParseInferResponse(R"({"error":"model 'x' is not ready"})", std::nullopt);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("server returned an error: model 'x' is not ready"));
  EXPECT_THAT(ParseInferResponse(R"({"model_name":"m"})", std::nullopt).status().message(),
              HasSubstr("response needs an 'outputs' array"));
  EXPECT_THAT(
      ParseInferResponse(R"({"outputs":[{"name":"o","shape":[2],"datatype":"FP32","data":[1]}]})",
                         std::nullopt)
          .status()
          .message(),
      HasSubstr("output 'o': shape [2] needs 2 elements, got 1"));
}

}  // namespace
}  // namespace heteroaccel::protocol

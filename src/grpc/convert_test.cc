#include "grpc/convert.h"

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace heteroaccel::grpcfront {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
using protocol::DataType;
using protocol::Tensor;

::inference::ModelInferRequest RawRequest(const std::vector<Tensor>& inputs) {
  ::inference::ModelInferRequest proto;
  proto.set_model_name("m");
  for (const Tensor& t : inputs) {
    auto* in = proto.add_inputs();
    in->set_name(t.name);
    in->set_datatype(std::string(protocol::DataTypeName(t.datatype)));
    for (int64_t d : t.shape) in->add_shape(d);
    proto.add_raw_input_contents(t.data);
  }
  return proto;
}

void ExpectInvalid(const ::inference::ModelInferRequest& proto, const std::string& substring,
                   const protocol::Limits& limits = {}) {
  absl::StatusOr<protocol::InferRequest> r = InferRequestFromProto(proto, limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(substring));
}

TEST(InferRequestFromProtoTest, ReadsRawContents) {
  const std::vector<float> values = {1.5f, -2.0f, 3.25f, 0.0f};
  const Tensor image = Tensor::FromFloats("image", {2, 2}, values);
  const Tensor text = Tensor::FromBytes("text", {"ab", "", std::string("\xff\x00z", 3)});
  ::inference::ModelInferRequest proto = RawRequest({image, text});
  proto.set_id("req-1");
  proto.add_outputs()->set_name("boxes");

  absl::StatusOr<protocol::InferRequest> r = InferRequestFromProto(proto);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->id, "req-1");
  ASSERT_EQ(r->inputs.size(), 2u);
  EXPECT_EQ(r->inputs[0], image);
  EXPECT_EQ(r->inputs[1], text);
  ASSERT_EQ(r->outputs.size(), 1u);
  EXPECT_EQ(r->outputs[0].name, "boxes");
}

TEST(InferRequestFromProtoTest, TypedContentsRoundTripEveryDatatype) {
  protocol::InferRequest request;
  const std::array<bool, 3> bools = {true, false, true};
  request.inputs.push_back(Tensor::FromValues<bool>("bool", {3}, bools));
  const std::array<uint8_t, 3> u8 = {0, 200, 255};
  request.inputs.push_back(Tensor::FromValues<uint8_t>("u8", {3}, u8));
  const std::array<uint16_t, 2> u16 = {0, 65535};
  request.inputs.push_back(Tensor::FromValues<uint16_t>("u16", {2}, u16));
  const std::array<uint32_t, 1> u32 = {std::numeric_limits<uint32_t>::max()};
  request.inputs.push_back(Tensor::FromValues<uint32_t>("u32", {1}, u32));
  const std::array<uint64_t, 2> u64 = {std::numeric_limits<uint64_t>::max(), 1};
  request.inputs.push_back(Tensor::FromValues<uint64_t>("u64", {2}, u64));
  const std::array<int8_t, 2> i8 = {-128, 127};
  request.inputs.push_back(Tensor::FromValues<int8_t>("i8", {1, 2}, i8));
  const std::array<int16_t, 2> i16 = {-32768, 32767};
  request.inputs.push_back(Tensor::FromValues<int16_t>("i16", {2}, i16));
  const std::array<int32_t, 2> i32 = {std::numeric_limits<int32_t>::min(), 7};
  request.inputs.push_back(Tensor::FromValues<int32_t>("i32", {2}, i32));
  const std::array<int64_t, 2> i64 = {std::numeric_limits<int64_t>::min(), 9};
  request.inputs.push_back(Tensor::FromValues<int64_t>("i64", {2}, i64));
  const std::array<float, 2> f32 = {0.5f, -1e30f};
  request.inputs.push_back(Tensor::FromValues<float>("f32", {2}, f32));
  const std::array<double, 2> f64 = {1e300, -0.25};
  request.inputs.push_back(Tensor::FromValues<double>("f64", {2}, f64));
  request.inputs.push_back(Tensor::FromBytes("bytes", {"hello", ""}));

  absl::StatusOr<::inference::ModelInferRequest> proto =
      InferRequestToProto(request, "m", "1", ContentsEncoding::kTyped);
  ASSERT_TRUE(proto.ok()) << proto.status();
  EXPECT_EQ(proto->raw_input_contents_size(), 0);
  EXPECT_EQ(proto->inputs(1).contents().uint_contents_size(), 3);
  EXPECT_EQ(proto->inputs(5).contents().int_contents(0), -128);

  absl::StatusOr<protocol::InferRequest> back = InferRequestFromProto(*proto);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->inputs, request.inputs);
}

TEST(InferRequestFromProtoTest, RejectsTypedValueOutOfRange) {
  ::inference::ModelInferRequest proto;
  auto* in = proto.add_inputs();
  in->set_name("x");
  in->set_datatype("INT8");
  in->add_shape(2);
  in->mutable_contents()->add_int_contents(1);
  in->mutable_contents()->add_int_contents(300);
  ExpectInvalid(proto, "input 'x': INT8 element 1 is 300, outside [-128, 127]");
}

TEST(InferRequestFromProtoTest, RejectsTypedElementsInTheWrongField) {
  ::inference::ModelInferRequest proto;
  auto* in = proto.add_inputs();
  in->set_name("x");
  in->set_datatype("FP32");
  in->add_shape(1);
  in->mutable_contents()->add_int_contents(1);
  ExpectInvalid(proto,
                "input 'x' is FP32 but its elements are in contents.int_contents; put "
                "them in contents.fp32_contents");
}

TEST(InferRequestFromProtoTest, RejectsTypedCountMismatch) {
  ::inference::ModelInferRequest proto;
  auto* in = proto.add_inputs();
  in->set_name("x");
  in->set_datatype("FP32");
  in->add_shape(2);
  in->add_shape(2);
  in->mutable_contents()->add_fp32_contents(1);
  ExpectInvalid(proto, "input 'x' needs 4 elements for its shape, contents.fp32_contents has 1");
}

TEST(InferRequestFromProtoTest, RejectsTypedFp16) {
  ::inference::ModelInferRequest proto;
  auto* in = proto.add_inputs();
  in->set_name("h");
  in->set_datatype("FP16");
  in->add_shape(1);
  ExpectInvalid(proto, "input 'h' is FP16, which has no typed contents field");
}

TEST(InferRequestFromProtoTest, RejectsRawSizeMismatch) {
  Tensor t = Tensor::FromFloats("image", {2, 2}, std::vector<float>{1, 2, 3});
  ExpectInvalid(RawRequest({t}),
                "input 'image': shape [2,2] FP32 needs 4 elements of 4 bytes, "
                "got 12 bytes");
}

TEST(InferRequestFromProtoTest, RejectsBrokenBytesFraming) {
  Tensor t = Tensor::FromBytes("text", {"abc"});
  t.data.pop_back();
  ExpectInvalid(RawRequest({t}), "input 'text': BYTES element 0 declares 3 bytes but only 2");
}

TEST(InferRequestFromProtoTest, RejectsRawCountMismatch) {
  ::inference::ModelInferRequest proto =
      RawRequest({Tensor::FromInt32s("a", {1}, std::vector<int32_t>{1}),
                  Tensor::FromInt32s("b", {1}, std::vector<int32_t>{2})});
  proto.mutable_raw_input_contents()->RemoveLast();
  ExpectInvalid(proto, "raw_input_contents has 1 entries for 2 inputs");
}

TEST(InferRequestFromProtoTest, RejectsRawAndTypedTogether) {
  ::inference::ModelInferRequest proto =
      RawRequest({Tensor::FromInt32s("a", {1}, std::vector<int32_t>{1})});
  proto.mutable_inputs(0)->mutable_contents()->add_int_contents(1);
  ExpectInvalid(proto,
                "input 'a' has typed contents while the message also carries "
                "raw_input_contents");
}

TEST(InferRequestFromProtoTest, RejectsBadNamesTypesAndShapes) {
  const Tensor a = Tensor::FromInt32s("a", {1}, std::vector<int32_t>{1});
  ExpectInvalid(RawRequest({a, a}), "duplicate input name 'a'");

  ::inference::ModelInferRequest unnamed = RawRequest({a});
  unnamed.mutable_inputs(0)->clear_name();
  ExpectInvalid(unnamed, "input 0 needs a non-empty name");

  ::inference::ModelInferRequest bad_type = RawRequest({a});
  bad_type.mutable_inputs(0)->set_datatype("FLOAT");
  ExpectInvalid(bad_type, "input 'a': unknown datatype 'FLOAT'");

  ::inference::ModelInferRequest negative = RawRequest({a});
  negative.mutable_inputs(0)->set_shape(0, -1);
  ExpectInvalid(negative, "input 'a': shape [-1] has a negative dimension");

  ::inference::ModelInferRequest none;
  ExpectInvalid(none, "request needs at least one input");

  ::inference::ModelInferRequest twice = RawRequest({a});
  twice.add_outputs()->set_name("o");
  twice.add_outputs()->set_name("o");
  ExpectInvalid(twice, "output 'o' is requested twice");
}

TEST(InferRequestFromProtoTest, EnforcesLimits) {
  protocol::Limits limits;
  limits.max_tensors = 1;
  limits.max_elements = 3;
  const Tensor a = Tensor::FromInt32s("a", {1}, std::vector<int32_t>{1});
  const Tensor b = Tensor::FromInt32s("b", {1}, std::vector<int32_t>{1});
  ExpectInvalid(RawRequest({a, b}), "message has 2 inputs, more than the limit of 1", limits);
  const Tensor big = Tensor::FromInt32s("big", {4}, std::vector<int32_t>{1, 2, 3, 4});
  ExpectInvalid(RawRequest({big}),
                "input 'big': shape [4] has 4 elements, more than the limit "
                "of 3",
                limits);
}

TEST(ParametersTest, RoundTripThroughJson) {
  const json parameters = {{"s", "text"},
                           {"i", -5},
                           {"b", true},
                           {"d", 0.25},
                           {"u", 18446744073709551615u},
                           {"nested", {{"k", 1}}},
                           {"nothing", nullptr}};
  ParameterMap map;
  ParametersFromJson(parameters, &map);
  EXPECT_EQ(map.at("s").string_param(), "text");
  EXPECT_EQ(map.at("i").int64_param(), -5);
  EXPECT_TRUE(map.at("b").bool_param());
  EXPECT_EQ(map.at("d").double_param(), 0.25);
  EXPECT_EQ(map.at("u").uint64_param(), 18446744073709551615u);
  EXPECT_EQ(map.at("nested").string_param(), R"({"k":1})");
  EXPECT_EQ(map.count("nothing"), 0u);

  absl::StatusOr<json> back = ParametersToJson(map);
  ASSERT_TRUE(back.ok()) << back.status();
  json expected = parameters;
  expected.erase("nothing");
  expected["nested"] = R"({"k":1})";
  EXPECT_EQ(*back, expected);
}

TEST(ParametersTest, RejectsUnsetValue) {
  ParameterMap map;
  map["empty"];
  absl::StatusOr<json> r = ParametersToJson(map);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("parameter 'empty' has no value"));
}

TEST(ParametersTest, LiftsBinaryDataFlags) {
  ::inference::ModelInferRequest proto =
      RawRequest({Tensor::FromInt32s("a", {1}, std::vector<int32_t>{1})});
  (*proto.mutable_parameters())["binary_data_output"].set_bool_param(true);
  (*proto.mutable_parameters())["priority"].set_int64_param(2);
  auto* out = proto.add_outputs();
  out->set_name("o");
  (*out->mutable_parameters())["binary_data"].set_bool_param(false);
  absl::StatusOr<protocol::InferRequest> r = InferRequestFromProto(proto);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->binary_output_default);
  EXPECT_EQ(r->parameters, json({{"priority", 2}}));
  EXPECT_FALSE(r->outputs[0].binary);

  (*proto.mutable_parameters())["binary_data_output"].set_string_param("yes");
  ExpectInvalid(proto, "request parameter 'binary_data_output' must be a bool_param");
}

TEST(InferResponseToProtoTest, WritesRawOutputsAndEchoesId) {
  protocol::InferResponse response;
  response.model_name = "m";
  response.model_version = "2";
  response.parameters = {{"device", "cpu0"}};
  response.outputs = {Tensor::FromFloats("a", {1}, std::vector<float>{1}),
                      Tensor::FromBytes("b", {"x"})};
  protocol::InferRequest request;
  request.id = "req-9";
  ::inference::ModelInferResponse proto;
  ASSERT_TRUE(InferResponseToProto(response, request, &proto).ok());
  EXPECT_EQ(proto.id(), "req-9");
  EXPECT_EQ(proto.model_version(), "2");
  EXPECT_EQ(proto.parameters().at("device").string_param(), "cpu0");
  ASSERT_EQ(proto.outputs_size(), 2);
  ASSERT_EQ(proto.raw_output_contents_size(), 2);
  EXPECT_EQ(proto.outputs(1).datatype(), "BYTES");
  EXPECT_EQ(proto.raw_output_contents(1), response.outputs[1].data);

  absl::StatusOr<protocol::InferResponse> back = InferResponseFromProto(proto);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->outputs, response.outputs);
  EXPECT_EQ(back->id, "req-9");
}

TEST(InferResponseToProtoTest, WritesOnlyRequestedOutputsInRequestOrder) {
  protocol::InferResponse response;
  response.outputs = {Tensor::FromFloats("a", {1}, std::vector<float>{1}),
                      Tensor::FromFloats("b", {1}, std::vector<float>{2}),
                      Tensor::FromFloats("c", {1}, std::vector<float>{3})};
  protocol::InferRequest request;
  request.outputs = {{"c", false}, {"a", false}};
  ::inference::ModelInferResponse proto;
  ASSERT_TRUE(InferResponseToProto(response, request, &proto).ok());
  ASSERT_EQ(proto.outputs_size(), 2);
  EXPECT_EQ(proto.outputs(0).name(), "c");
  EXPECT_EQ(proto.outputs(1).name(), "a");

  request.outputs = {{"zzz", false}};
  ::inference::ModelInferResponse unknown;
  absl::Status s = InferResponseToProto(response, request, &unknown);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("unknown output 'zzz'"));
}

TEST(InferResponseToProtoTest, MalformedOutputIsInternal) {
  protocol::InferResponse response;
  response.outputs = {Tensor::FromFloats("a", {2}, std::vector<float>{1})};
  ::inference::ModelInferResponse proto;
  absl::Status s = InferResponseToProto(response, {}, &proto);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(s.message()), HasSubstr("malformed output: output 'a'"));
}

TEST(MetadataTest, ServerMetadataRoundTrip) {
  const json metadata =
      protocol::ServerMetadataJson("heteroaccel", "0.1.0", {"binary_tensor_data"});
  EXPECT_EQ(ServerMetadataFromProto(ServerMetadataToProto(metadata)), metadata);
  EXPECT_EQ(ServerMetadataToProto(json::array()).name(), "");
}

TEST(MetadataTest, ModelMetadataRoundTrip) {
  protocol::ModelMetadata m;
  m.name = "blazeface";
  m.versions = {"1", "2"};
  m.platform = "opencv_dnn";
  m.inputs = {{"image", DataType::kUint8, {-1, -1, 3}, ""}};
  m.outputs = {{"boxes", DataType::kFp32, {-1, 4}, ""}, {"labels", DataType::kBytes, {-1}, ""}};
  absl::StatusOr<protocol::ModelMetadata> back = ModelMetadataFromProto(ModelMetadataToProto(m));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, m);

  ::inference::ModelMetadataResponse bad = ModelMetadataToProto(m);
  bad.mutable_inputs(0)->set_datatype("RGB");
  EXPECT_EQ(ModelMetadataFromProto(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(StatusTest, MapsEveryCodeToItsNamesake) {
  const std::vector<std::pair<absl::StatusCode, grpc::StatusCode>> cases = {
      {absl::StatusCode::kInvalidArgument, grpc::StatusCode::INVALID_ARGUMENT},
      {absl::StatusCode::kNotFound, grpc::StatusCode::NOT_FOUND},
      {absl::StatusCode::kResourceExhausted, grpc::StatusCode::RESOURCE_EXHAUSTED},
      {absl::StatusCode::kUnavailable, grpc::StatusCode::UNAVAILABLE},
      {absl::StatusCode::kDeadlineExceeded, grpc::StatusCode::DEADLINE_EXCEEDED},
      {absl::StatusCode::kFailedPrecondition, grpc::StatusCode::FAILED_PRECONDITION},
      {absl::StatusCode::kUnimplemented, grpc::StatusCode::UNIMPLEMENTED},
      {absl::StatusCode::kInternal, grpc::StatusCode::INTERNAL},
      {absl::StatusCode::kPermissionDenied, grpc::StatusCode::PERMISSION_DENIED},
      {absl::StatusCode::kUnauthenticated, grpc::StatusCode::UNAUTHENTICATED},
      {absl::StatusCode::kCancelled, grpc::StatusCode::CANCELLED},
      {absl::StatusCode::kOutOfRange, grpc::StatusCode::OUT_OF_RANGE},
  };
  for (const auto& [absl_code, grpc_code] : cases) {
    const absl::Status s(absl_code, "why");
    const grpc::Status g = ToGrpcStatus(s);
    EXPECT_EQ(g.error_code(), grpc_code);
    EXPECT_EQ(g.error_message(), "why");
    EXPECT_EQ(FromGrpcStatus(g), s);
  }
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

// Field numbers and names are the wire contract with existing KServe and
// Triton clients; they must match the public specification.
TEST(WireContractTest, FieldNumbersMatchTheSpecification) {
  auto number = [](const google::protobuf::Descriptor* d, const char* field) {
    const google::protobuf::FieldDescriptor* f = d->FindFieldByName(field);
    return f == nullptr ? -1 : f->number();
  };
  const auto* req = ::inference::ModelInferRequest::descriptor();
  EXPECT_EQ(req->full_name(), "inference.ModelInferRequest");
  EXPECT_EQ(number(req, "model_name"), 1);
  EXPECT_EQ(number(req, "model_version"), 2);
  EXPECT_EQ(number(req, "id"), 3);
  EXPECT_EQ(number(req, "parameters"), 4);
  EXPECT_EQ(number(req, "inputs"), 5);
  EXPECT_EQ(number(req, "outputs"), 6);
  EXPECT_EQ(number(req, "raw_input_contents"), 7);
  const auto* input = ::inference::ModelInferRequest::InferInputTensor::descriptor();
  EXPECT_EQ(number(input, "name"), 1);
  EXPECT_EQ(number(input, "datatype"), 2);
  EXPECT_EQ(number(input, "shape"), 3);
  EXPECT_EQ(number(input, "parameters"), 4);
  EXPECT_EQ(number(input, "contents"), 5);
  const auto* wanted = ::inference::ModelInferRequest::InferRequestedOutputTensor::descriptor();
  EXPECT_EQ(number(wanted, "name"), 1);
  EXPECT_EQ(number(wanted, "parameters"), 2);
  const auto* resp = ::inference::ModelInferResponse::descriptor();
  EXPECT_EQ(number(resp, "model_name"), 1);
  EXPECT_EQ(number(resp, "model_version"), 2);
  EXPECT_EQ(number(resp, "id"), 3);
  EXPECT_EQ(number(resp, "parameters"), 4);
  EXPECT_EQ(number(resp, "outputs"), 5);
  EXPECT_EQ(number(resp, "raw_output_contents"), 6);
  const auto* output = ::inference::ModelInferResponse::InferOutputTensor::descriptor();
  EXPECT_EQ(number(output, "contents"), 5);
  const auto* param = ::inference::InferParameter::descriptor();
  EXPECT_EQ(number(param, "bool_param"), 1);
  EXPECT_EQ(number(param, "int64_param"), 2);
  EXPECT_EQ(number(param, "string_param"), 3);
  EXPECT_EQ(number(param, "double_param"), 4);
  EXPECT_EQ(number(param, "uint64_param"), 5);
  const auto* contents = ::inference::InferTensorContents::descriptor();
  const std::array<const char*, 8> fields = {"bool_contents", "int_contents",    "int64_contents",
                                             "uint_contents", "uint64_contents", "fp32_contents",
                                             "fp64_contents", "bytes_contents"};
  for (size_t i = 0; i < fields.size(); ++i) {
    EXPECT_EQ(number(contents, fields[i]), static_cast<int>(i) + 1) << fields[i];
  }
  const auto* meta = ::inference::ModelMetadataResponse::descriptor();
  EXPECT_EQ(number(meta, "name"), 1);
  EXPECT_EQ(number(meta, "versions"), 2);
  EXPECT_EQ(number(meta, "platform"), 3);
  EXPECT_EQ(number(meta, "inputs"), 4);
  EXPECT_EQ(number(meta, "outputs"), 5);
  EXPECT_EQ(number(::inference::ServerMetadataResponse::descriptor(), "extensions"), 3);
  EXPECT_EQ(number(::inference::ModelReadyRequest::descriptor(), "version"), 2);
}

TEST(InferRequestToProtoTest, TypedEncodingRefusesFp16) {
  protocol::InferRequest request;
  Tensor half;
  half.name = "h";
  half.datatype = DataType::kFp16;
  half.shape = {1};
  half.data = std::string(2, '\0');
  request.inputs = {half};
  EXPECT_TRUE(InferRequestToProto(request, "m", "", ContentsEncoding::kRaw).ok());
  absl::StatusOr<::inference::ModelInferRequest> typed =
      InferRequestToProto(request, "m", "", ContentsEncoding::kTyped);
  EXPECT_EQ(typed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(typed.status().message()), HasSubstr("send it as raw contents"));
}

}  // namespace
}  // namespace heteroaccel::grpcfront

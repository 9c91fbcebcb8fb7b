// Conversions between the KServe v2 gRPC messages (package inference, see
// predict_v2.proto) and the protocol:: types the rest of the system uses, plus
// the mapping from absl::Status to grpc::Status.
//
// The request parser is the trust boundary for gRPC requests and applies the
// same rules as the HTTP parser: non-empty unique names, a known datatype,
// non-negative shapes within protocol::Limits, element bytes that match shape
// and datatype. Every rejection is InvalidArgument with a message naming the
// offending tensor. Tensor element bytes keep the layout of protocol::Tensor
// (little-endian, each BYTES element a 4-byte length then its bytes), which is
// also the layout of raw_input_contents / raw_output_contents, so raw tensors
// are copied without conversion.
//
// What does not survive the conversion: input tensor parameters (Tensor has
// none) and requested-output parameters other than binary_data.
//
// Pure functions, thread-safe.
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpc/predict_v2.pb.h"
#include "grpcpp/support/status.h"
#include "nlohmann/json.hpp"
#include "protocol/inference.h"
#include "protocol/metadata.h"

namespace heteroaccel::grpcfront {

using ParameterMap = google::protobuf::Map<std::string, ::inference::InferParameter>;

// How tensor elements travel in a message.
enum class ContentsEncoding {
  kRaw,    // raw_input_contents / raw_output_contents (what Triton sends)
  kTyped,  // InferTensorContents fields per tensor; FP16 cannot use it
};

// ---------------------------------------------------------------------------
// Parameters.

// bool/int64/string/double/uint64 parameters as a JSON object. InvalidArgument
// names a parameter whose value is not set.
absl::StatusOr<nlohmann::json> ParametersToJson(const ParameterMap& parameters);

// The inverse for the members of a JSON object: booleans, integers, floats and
// strings map to the matching choice (integers above INT64_MAX to
// uint64_param); arrays and objects become string_param holding their JSON
// text; nulls are left out. A non-object yields no parameters.
void ParametersFromJson(const nlohmann::json& json, ParameterMap* parameters);

// ---------------------------------------------------------------------------
// ModelInfer.

// Server side. raw_input_contents, when present, must have one entry per input
// and no input may also carry contents. The binary_data_output request
// parameter and binary_data output parameters are lifted into the typed fields
// as the HTTP parser does (they do not change how gRPC answers).
absl::StatusOr<protocol::InferRequest> InferRequestFromProto(
    const ::inference::ModelInferRequest& proto, const protocol::Limits& limits = {});

// Client side. InvalidArgument when an input's bytes do not match its shape,
// or with kTyped for an FP16 input.
absl::StatusOr<::inference::ModelInferRequest> InferRequestToProto(
    const protocol::InferRequest& request, std::string_view model, std::string_view version,
    ContentsEncoding encoding = ContentsEncoding::kRaw);

// Server side: fills `proto` with raw_output_contents, as Triton does. With
// request.outputs non-empty, writes only those, in request order; an empty
// response id echoes request.id. InvalidArgument names a requested output the
// response lacks; Internal names an output whose bytes do not match its shape
// (a bug in the service). Output bytes are moved out of `response`.
absl::Status InferResponseToProto(protocol::InferResponse response,
                                  const protocol::InferRequest& request,
                                  ::inference::ModelInferResponse* proto);

// Client side: accepts raw_output_contents (one per output) or typed contents,
// checked like a request.
absl::StatusOr<protocol::InferResponse> InferResponseFromProto(
    const ::inference::ModelInferResponse& proto, const protocol::Limits& limits = {});

// ---------------------------------------------------------------------------
// Metadata.

// From the {"name","version","extensions"} document; missing or mistyped
// members are left empty.
::inference::ServerMetadataResponse ServerMetadataToProto(const nlohmann::json& metadata);
nlohmann::json ServerMetadataFromProto(const ::inference::ServerMetadataResponse& proto);

// ModelMetadata::extra and TensorSpec::description have no field in the
// message and are dropped.
::inference::ModelMetadataResponse ModelMetadataToProto(const protocol::ModelMetadata& metadata);
// InvalidArgument for an unknown datatype.
absl::StatusOr<protocol::ModelMetadata> ModelMetadataFromProto(
    const ::inference::ModelMetadataResponse& proto);

// ---------------------------------------------------------------------------
// Status codes. absl and gRPC share the canonical code space, so every code
// maps to its namesake (InvalidArgument -> INVALID_ARGUMENT, NotFound ->
// NOT_FOUND, ResourceExhausted -> RESOURCE_EXHAUSTED, Unavailable ->
// UNAVAILABLE, ...) and the message is kept. An OK status maps to OK.

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace heteroaccel::grpcfront

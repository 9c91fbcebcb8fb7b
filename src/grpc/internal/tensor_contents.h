// Conversions between a Tensor's element bytes and the typed repeated fields of
// inference.InferTensorContents (fp32_contents, int_contents, ...).
//
// The typed form is the alternative to raw contents in the KServe v2 gRPC
// messages: each datatype has one field (INT8/16/32 share int_contents,
// UINT8/16/32 share uint_contents, FP16 has none). Messages name the tensor as
// "<role> '<name>'" so a user can find the offending tensor. Pure functions,
// thread-safe.
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "grpc/predict_v2.pb.h"
#include "protocol/tensor.h"

namespace heteroaccel::grpcfront::internal {

// Whether any typed field holds an element.
bool HasTypedContents(const ::inference::InferTensorContents& contents);

// Fills tensor->data from `contents`. The tensor's name, datatype and shape
// must be set and its element count valid. InvalidArgument when the elements
// sit in a field that does not belong to the datatype, their number does not
// match the shape, a value is out of the datatype's range (INT8 300), or the
// datatype is FP16 (which only travels as raw contents).
absl::Status DecodeTypedContents(const ::inference::InferTensorContents& contents,
                                 std::string_view role, protocol::Tensor* tensor);

// Writes tensor's elements into the field that belongs to its datatype.
// InvalidArgument for FP16 and for element bytes that do not match the shape.
absl::Status EncodeTypedContents(const protocol::Tensor& tensor, std::string_view role,
                                 ::inference::InferTensorContents* contents);

}  // namespace heteroaccel::grpcfront::internal

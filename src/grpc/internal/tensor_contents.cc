#include "grpc/internal/tensor_contents.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "common/status_macros.h"
#include "protocol/internal/strings.h"

namespace heteroaccel::grpcfront::internal {
namespace {

using ::inference::InferTensorContents;
using protocol::DataType;
using protocol::internal::StrCat;

struct FieldSize {
  std::string_view name;
  int size;
};

std::array<FieldSize, 8> FieldSizes(const InferTensorContents& c) {
  return {{{"bool_contents", c.bool_contents_size()},
           {"int_contents", c.int_contents_size()},
           {"int64_contents", c.int64_contents_size()},
           {"uint_contents", c.uint_contents_size()},
           {"uint64_contents", c.uint64_contents_size()},
           {"fp32_contents", c.fp32_contents_size()},
           {"fp64_contents", c.fp64_contents_size()},
           {"bytes_contents", c.bytes_contents_size()}}};
}

// The field that carries `type`; empty for FP16, which has none.
std::string_view FieldFor(DataType type) {
  switch (type) {
    case DataType::kBool:
      return "bool_contents";
    case DataType::kInt8:
    case DataType::kInt16:
    case DataType::kInt32:
      return "int_contents";
    case DataType::kInt64:
      return "int64_contents";
    case DataType::kUint8:
    case DataType::kUint16:
    case DataType::kUint32:
      return "uint_contents";
    case DataType::kUint64:
      return "uint64_contents";
    case DataType::kFp32:
      return "fp32_contents";
    case DataType::kFp64:
      return "fp64_contents";
    case DataType::kBytes:
      return "bytes_contents";
    case DataType::kFp16:
      break;
  }
  return {};
}

std::string Prefix(std::string_view role, const protocol::Tensor& t) {
  return StrCat(role, " '", t.name, "'");
}

// Copies a repeated field whose element type is the tensor's element type.
template <typename T>
void CopySame(const google::protobuf::RepeatedField<T>& values, std::string* out) {
  out->resize(static_cast<size_t>(values.size()) * sizeof(T));
  if (!values.empty()) std::memcpy(out->data(), values.data(), out->size());
}

// Copies a repeated field of wider integers into `To` elements, checking range.
template <typename To, typename From>
absl::Status CopyNarrow(const google::protobuf::RepeatedField<From>& values,
                        const std::string& prefix, DataType type, std::string* out) {
  out->resize(static_cast<size_t>(values.size()) * sizeof(To));
  char* p = out->data();
  for (int i = 0; i < values.size(); ++i) {
    const From v = values.Get(i);
    if (!std::in_range<To>(v)) {
      return absl::InvalidArgumentError(
          StrCat(prefix, ": ", protocol::DataTypeName(type), " element ", i, " is ", v,
                 ", outside [", static_cast<int64_t>(std::numeric_limits<To>::min()), ", ",
                 static_cast<uint64_t>(std::numeric_limits<To>::max()), "]"));
    }
    const To narrow = static_cast<To>(v);
    std::memcpy(p + static_cast<size_t>(i) * sizeof(To), &narrow, sizeof(To));
  }
  return absl::OkStatus();
}

void CopyBools(const google::protobuf::RepeatedField<bool>& values, std::string* out) {
  out->resize(static_cast<size_t>(values.size()));
  for (int i = 0; i < values.size(); ++i) (*out)[static_cast<size_t>(i)] = values.Get(i) ? 1 : 0;
}

absl::Status CopyBytes(const google::protobuf::RepeatedPtrField<std::string>& values,
                       const std::string& prefix, std::string* out) {
  size_t total = 0;
  for (const std::string& e : values) total += 4 + e.size();
  out->clear();
  out->reserve(total);
  for (int i = 0; i < values.size(); ++i) {
    const std::string& e = values.Get(i);
    if (e.size() > std::numeric_limits<uint32_t>::max()) {
      return absl::InvalidArgumentError(
          StrCat(prefix, ": BYTES element ", i, " is 4 GiB or larger"));
    }
    const auto len = static_cast<uint32_t>(e.size());
    out->append(reinterpret_cast<const char*>(&len), sizeof(len));
    out->append(e);
  }
  return absl::OkStatus();
}

// Checks that only `field` holds elements and that it holds `expected`.
absl::Status CheckFields(const InferTensorContents& contents, std::string_view field,
                         int64_t expected, const std::string& prefix, DataType type) {
  for (const FieldSize& f : FieldSizes(contents)) {
    if (f.name == field || f.size == 0) continue;
    return absl::InvalidArgumentError(StrCat(prefix, " is ", protocol::DataTypeName(type),
                                             " but its elements are in contents.", f.name,
                                             "; put them in contents.", field));
  }
  int size = 0;
  for (const FieldSize& f : FieldSizes(contents)) {
    if (f.name == field) size = f.size;
  }
  if (size != expected) {
    return absl::InvalidArgumentError(StrCat(
        prefix, " needs ", expected, " elements for its shape, contents.", field, " has ", size));
  }
  return absl::OkStatus();
}

template <typename To, typename From>
void AppendWide(const std::string& data, google::protobuf::RepeatedField<From>* out) {
  const size_t n = data.size() / sizeof(To);
  out->Reserve(static_cast<int>(n));
  for (size_t i = 0; i < n; ++i) {
    To v;
    std::memcpy(&v, data.data() + i * sizeof(To), sizeof(To));
    out->Add(static_cast<From>(v));
  }
}

}  // namespace

bool HasTypedContents(const InferTensorContents& contents) {
  for (const FieldSize& f : FieldSizes(contents)) {
    if (f.size > 0) return true;
  }
  return false;
}

absl::Status DecodeTypedContents(const InferTensorContents& contents, std::string_view role,
                                 protocol::Tensor* tensor) {
  const std::string prefix = Prefix(role, *tensor);
  const DataType type = tensor->datatype;
  const std::string_view field = FieldFor(type);
  if (field.empty()) {
    return absl::InvalidArgumentError(
        StrCat(prefix, " is FP16, which has no typed contents field; send it as raw contents"));
  }
  const int64_t expected = tensor->ElementCount().value_or(-1);
  RETURN_IF_ERROR(CheckFields(contents, field, expected, prefix, type));
  std::string* out = &tensor->data;
  switch (type) {
    case DataType::kBool:
      CopyBools(contents.bool_contents(), out);
      return absl::OkStatus();
    case DataType::kInt8:
      return CopyNarrow<int8_t>(contents.int_contents(), prefix, type, out);
    case DataType::kInt16:
      return CopyNarrow<int16_t>(contents.int_contents(), prefix, type, out);
    case DataType::kInt32:
      CopySame(contents.int_contents(), out);
      return absl::OkStatus();
    case DataType::kInt64:
      CopySame(contents.int64_contents(), out);
      return absl::OkStatus();
    case DataType::kUint8:
      return CopyNarrow<uint8_t>(contents.uint_contents(), prefix, type, out);
    case DataType::kUint16:
      return CopyNarrow<uint16_t>(contents.uint_contents(), prefix, type, out);
    case DataType::kUint32:
      CopySame(contents.uint_contents(), out);
      return absl::OkStatus();
    case DataType::kUint64:
      CopySame(contents.uint64_contents(), out);
      return absl::OkStatus();
    case DataType::kFp32:
      CopySame(contents.fp32_contents(), out);
      return absl::OkStatus();
    case DataType::kFp64:
      CopySame(contents.fp64_contents(), out);
      return absl::OkStatus();
    case DataType::kBytes:
      return CopyBytes(contents.bytes_contents(), prefix, out);
    case DataType::kFp16:
      break;
  }
  return absl::InternalError(StrCat(prefix, ": unhandled datatype"));
}

absl::Status EncodeTypedContents(const protocol::Tensor& tensor, std::string_view role,
                                 InferTensorContents* contents) {
  const std::string prefix = Prefix(role, tensor);
  if (tensor.datatype == DataType::kFp16) {
    return absl::InvalidArgumentError(
        StrCat(prefix, " is FP16, which has no typed contents field; send it as raw contents"));
  }
  RETURN_IF_ERROR(protocol::ValidateTensorData(tensor, role));
  const std::string& d = tensor.data;
  switch (tensor.datatype) {
    case DataType::kBool:
      for (char byte : d) contents->add_bool_contents(byte != 0);
      break;
    case DataType::kInt8:
      AppendWide<int8_t>(d, contents->mutable_int_contents());
      break;
    case DataType::kInt16:
      AppendWide<int16_t>(d, contents->mutable_int_contents());
      break;
    case DataType::kInt32:
      AppendWide<int32_t>(d, contents->mutable_int_contents());
      break;
    case DataType::kInt64:
      AppendWide<int64_t>(d, contents->mutable_int64_contents());
      break;
    case DataType::kUint8:
      AppendWide<uint8_t>(d, contents->mutable_uint_contents());
      break;
    case DataType::kUint16:
      AppendWide<uint16_t>(d, contents->mutable_uint_contents());
      break;
    case DataType::kUint32:
      AppendWide<uint32_t>(d, contents->mutable_uint_contents());
      break;
    case DataType::kUint64:
      AppendWide<uint64_t>(d, contents->mutable_uint64_contents());
      break;
    case DataType::kFp32:
      AppendWide<float>(d, contents->mutable_fp32_contents());
      break;
    case DataType::kFp64:
      AppendWide<double>(d, contents->mutable_fp64_contents());
      break;
    case DataType::kBytes: {
      ASSIGN_OR_RETURN(const std::vector<std::string_view> elements, tensor.BytesElements());
      for (std::string_view e : elements) contents->add_bytes_contents(e.data(), e.size());
      break;
    }
    case DataType::kFp16:
      break;
  }
  return absl::OkStatus();
}

}  // namespace heteroaccel::grpcfront::internal

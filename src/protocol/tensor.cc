#include "protocol/tensor.h"

#include <algorithm>
#include <array>
#include <limits>

#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace heteroaccel::protocol {
namespace {

using internal::StrCat;

struct TypeInfo {
  DataType type;
  std::string_view name;
  size_t size;
};

constexpr std::array<TypeInfo, 13> kTypes = {{
    {DataType::kBool, "BOOL", 1},
    {DataType::kUint8, "UINT8", 1},
    {DataType::kUint16, "UINT16", 2},
    {DataType::kUint32, "UINT32", 4},
    {DataType::kUint64, "UINT64", 8},
    {DataType::kInt8, "INT8", 1},
    {DataType::kInt16, "INT16", 2},
    {DataType::kInt32, "INT32", 4},
    {DataType::kInt64, "INT64", 8},
    {DataType::kFp16, "FP16", 2},
    {DataType::kFp32, "FP32", 4},
    {DataType::kFp64, "FP64", 8},
    {DataType::kBytes, "BYTES", 0},
}};

const TypeInfo* Find(DataType type) {
  for (const TypeInfo& info : kTypes) {
    if (info.type == type) return &info;
  }
  return nullptr;
}

uint32_t LoadLe32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Walks the BYTES framing of `tensor.data`, appending each element to `out`
// when it is not null, and checks the element count against the shape.
absl::Status SplitBytes(const Tensor& tensor, std::string_view role,
                        std::vector<std::string_view>* out) {
  const std::string& data = tensor.data;
  size_t pos = 0;
  int64_t count = 0;
  while (pos < data.size()) {
    if (data.size() - pos < 4) {
      return absl::InvalidArgumentError(
          StrCat(role, " '", tensor.name, "': BYTES element ", count,
                 " has a truncated 4-byte length prefix at byte offset ", pos));
    }
    const uint32_t len = LoadLe32(data.data() + pos);
    pos += 4;
    if (len > data.size() - pos) {
      return absl::InvalidArgumentError(StrCat(role, " '", tensor.name, "': BYTES element ", count,
                                               " declares ", len, " bytes but only ",
                                               data.size() - pos, " remain"));
    }
    if (out != nullptr) out->emplace_back(data.data() + pos, len);
    pos += len;
    ++count;
  }
  const std::optional<int64_t> expected = tensor.ElementCount();
  if (!expected.has_value() || *expected != count) {
    return absl::InvalidArgumentError(
        StrCat(role, " '", tensor.name, "': shape ", ShapeString(tensor.shape), " needs ",
               expected.has_value() ? StrCat(*expected) : std::string("a valid number of"),
               " elements, got ", count));
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view DataTypeName(DataType type) {
  const TypeInfo* info = Find(type);
  return info == nullptr ? std::string_view("INVALID") : info->name;
}

absl::StatusOr<DataType> ParseDataType(std::string_view name) {
  for (const TypeInfo& info : kTypes) {
    if (info.name == name) return info.type;
  }
  constexpr std::string_view kMaxShown = "0123456789012345678901234567890123456789";
  std::string shown(name.substr(0, kMaxShown.size()));
  if (name.size() > kMaxShown.size()) shown += "...";
  return absl::InvalidArgumentError(
      StrCat("unknown datatype '", shown,
             "'; expected one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, "
             "FP16, FP32, FP64, BYTES"));
}

size_t ElementSize(DataType type) {
  const TypeInfo* info = Find(type);
  return info == nullptr ? 0 : info->size;
}

std::optional<int64_t> ShapeElementCount(std::span<const int64_t> shape) {
  int64_t count = 1;
  bool zero = false;
  for (int64_t dim : shape) {
    if (dim < 0) return std::nullopt;
    if (dim == 0) zero = true;
  }
  if (zero) return 0;
  for (int64_t dim : shape) {
    if (count > std::numeric_limits<int64_t>::max() / dim) return std::nullopt;
    count *= dim;
  }
  return count;
}

std::string ShapeString(std::span<const int64_t> shape) {
  constexpr size_t kMaxDims = 16;
  std::string out = "[";
  absl::StrAppend(&out, absl::StrJoin(shape.first(std::min(shape.size(), kMaxDims)), ","));
  if (shape.size() > kMaxDims) absl::StrAppend(&out, ",... (", shape.size(), " dims)");
  out += "]";
  return out;
}

Tensor Tensor::FromFloats(std::string name, std::vector<int64_t> shape,
                          std::span<const float> values) {
  return FromValues<float>(std::move(name), std::move(shape), values);
}

Tensor Tensor::FromInt32s(std::string name, std::vector<int64_t> shape,
                          std::span<const int32_t> values) {
  return FromValues<int32_t>(std::move(name), std::move(shape), values);
}

Tensor Tensor::FromBytesElement(std::string name, std::string_view element) {
  Tensor t;
  t.name = std::move(name);
  t.datatype = DataType::kBytes;
  t.shape = {1};
  const auto len = static_cast<uint32_t>(element.size());
  t.data.reserve(sizeof(len) + element.size());
  t.data.append(reinterpret_cast<const char*>(&len), sizeof(len));
  t.data.append(element);
  return t;
}

Tensor Tensor::FromBytes(std::string name, const std::vector<std::string>& elements) {
  Tensor t;
  t.name = std::move(name);
  t.datatype = DataType::kBytes;
  t.shape = {static_cast<int64_t>(elements.size())};
  size_t total = 0;
  for (const std::string& e : elements) total += 4 + e.size();
  t.data.reserve(total);
  for (const std::string& e : elements) {
    const auto len = static_cast<uint32_t>(e.size());
    t.data.append(reinterpret_cast<const char*>(&len), sizeof(len));
    t.data.append(e);
  }
  return t;
}

absl::StatusOr<std::vector<std::string_view>> Tensor::BytesElements() const {
  if (datatype != DataType::kBytes) {
    return absl::InvalidArgumentError(
        StrCat("tensor '", name, "' is ", DataTypeName(datatype), ", not BYTES"));
  }
  std::vector<std::string_view> out;
  const std::optional<int64_t> expected = ElementCount();
  // Each element takes at least 4 bytes, which bounds the reservation even
  // when the shape claims far more elements than the data holds.
  if (expected.has_value()) {
    out.reserve(static_cast<size_t>(std::min<int64_t>(*expected, data.size() / 4)));
  }
  RETURN_IF_ERROR(SplitBytes(*this, "tensor", &out));
  return out;
}

absl::Status ValidateTensorData(const Tensor& tensor, std::string_view role) {
  const TypeInfo* info = Find(tensor.datatype);
  if (info == nullptr) {
    return absl::InvalidArgumentError(StrCat(role, " '", tensor.name, "' has an invalid datatype"));
  }
  const std::optional<int64_t> count = tensor.ElementCount();
  if (!count.has_value()) {
    return absl::InvalidArgumentError(StrCat(role, " '", tensor.name, "': shape ",
                                             ShapeString(tensor.shape),
                                             " has a negative or too large dimension"));
  }
  const size_t size = info->size;
  if (size == 0) return SplitBytes(tensor, role, nullptr);  // BYTES: variable-size elements.
  if (static_cast<uint64_t>(*count) > std::numeric_limits<size_t>::max() / size ||
      tensor.data.size() != static_cast<size_t>(*count) * size) {
    return absl::InvalidArgumentError(
        StrCat(role, " '", tensor.name, "': shape ", ShapeString(tensor.shape), " ",
               DataTypeName(tensor.datatype), " needs ", *count, " elements of ", size,
               " bytes, got ", tensor.data.size(), " bytes"));
  }
  if (tensor.datatype == DataType::kBool) {
    for (size_t i = 0; i < tensor.data.size(); ++i) {
      const auto byte = static_cast<unsigned char>(tensor.data[i]);
      if (byte > 1) {
        return absl::InvalidArgumentError(StrCat(role, " '", tensor.name, "': BOOL element ", i,
                                                 " is byte ", static_cast<int>(byte),
                                                 ", expected 0 or 1"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace heteroaccel::protocol

// Tensor: the value type every component uses to pass tensors around.
//
// A Tensor owns its name, shape and element bytes. Element bytes are the KServe
// v2 binary layout: little-endian, row major, no padding; BOOL is one byte
// (0 or 1); BYTES elements are each a 4-byte little-endian length followed by
// that many bytes. The same layout travels in the binary tensor extension, so
// a binary request is parsed without converting element bytes.
//
// Tensors are plain values: copyable and movable, with no internal locking.
// Concurrent reads of one Tensor are safe; a Tensor that is being written must
// not be shared. All free functions here are pure and thread-safe.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "protocol/internal/strings.h"

namespace heteroaccel::protocol {

static_assert(std::endian::native == std::endian::little,
              "tensor bytes are stored little-endian, the host layout");

enum class DataType {
  kBool,
  kUint8,
  kUint16,
  kUint32,
  kUint64,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kFp16,
  kFp32,
  kFp64,
  kBytes,
};

// The protocol spelling: "BOOL", "UINT8", ..., "FP16", "BYTES".
std::string_view DataTypeName(DataType type);

// Inverse of DataTypeName; exact, upper-case match. InvalidArgument names the
// accepted spellings otherwise.
absl::StatusOr<DataType> ParseDataType(std::string_view name);

// Bytes per element; 0 for BYTES, whose elements vary in size.
size_t ElementSize(DataType type);

// The DataType whose element layout is the C++ type T (FP16 has no native
// C++ type and BYTES none of fixed size, so neither appears here).
template <typename T>
constexpr DataType DataTypeOf();
template <>
constexpr DataType DataTypeOf<bool>() {
  return DataType::kBool;
}
template <>
constexpr DataType DataTypeOf<uint8_t>() {
  return DataType::kUint8;
}
template <>
constexpr DataType DataTypeOf<uint16_t>() {
  return DataType::kUint16;
}
template <>
constexpr DataType DataTypeOf<uint32_t>() {
  return DataType::kUint32;
}
template <>
constexpr DataType DataTypeOf<uint64_t>() {
  return DataType::kUint64;
}
template <>
constexpr DataType DataTypeOf<int8_t>() {
  return DataType::kInt8;
}
template <>
constexpr DataType DataTypeOf<int16_t>() {
  return DataType::kInt16;
}
template <>
constexpr DataType DataTypeOf<int32_t>() {
  return DataType::kInt32;
}
template <>
constexpr DataType DataTypeOf<int64_t>() {
  return DataType::kInt64;
}
template <>
constexpr DataType DataTypeOf<float>() {
  return DataType::kFp32;
}
template <>
constexpr DataType DataTypeOf<double>() {
  return DataType::kFp64;
}

// Product of `shape`; nullopt when a dimension is negative or the product
// overflows int64. An empty shape is a scalar: one element.
std::optional<int64_t> ShapeElementCount(std::span<const int64_t> shape);

// "[2,3]"; long shapes are abbreviated so messages stay readable.
std::string ShapeString(std::span<const int64_t> shape);

struct Tensor {
  std::string name;
  DataType datatype = DataType::kFp32;
  std::vector<int64_t> shape;
  // Element bytes in the layout described at the top of this file.
  std::string data;

  // Product of `shape`; nullopt on overflow or a negative dimension.
  std::optional<int64_t> ElementCount() const { return ShapeElementCount(shape); }

  // Builders for fixed-size element types. The caller keeps values.size()
  // equal to the product of shape; the builder copies without checking.
  template <typename T>
  static Tensor FromValues(std::string name, std::vector<int64_t> shape, std::span<const T> values);
  static Tensor FromFloats(std::string name, std::vector<int64_t> shape,
                           std::span<const float> values);
  static Tensor FromInt32s(std::string name, std::vector<int64_t> shape,
                           std::span<const int32_t> values);
  // A BYTES tensor of shape [elements.size()]. Each element must be shorter
  // than 4 GiB (the length prefix is 32 bits).
  static Tensor FromBytes(std::string name, const std::vector<std::string>& elements);
  // A BYTES tensor of shape [1] holding `element` (one copy, e.g. of an image).
  static Tensor FromBytesElement(std::string name, std::string_view element);

  // Copies the elements out as T. InvalidArgument when the datatype is not
  // DataTypeOf<T>() or the byte count does not match the shape.
  template <typename T>
  absl::StatusOr<std::vector<T>> Values() const;

  // Views into `data`, one per BYTES element; valid while this Tensor is
  // unchanged. InvalidArgument when the datatype is not BYTES, a length
  // prefix runs past the end, bytes are left over, or the element count does
  // not match the shape.
  absl::StatusOr<std::vector<std::string_view>> BytesElements() const;

  bool operator==(const Tensor&) const = default;
};

// Checks that `data` holds exactly the bytes `shape` and `datatype` call for:
// the size, BYTES framing, and BOOL bytes being 0 or 1. Messages name the
// tensor as "<role> '<name>'", e.g. "input 'image'".
absl::Status ValidateTensorData(const Tensor& tensor, std::string_view role = "tensor");

// ---------------------------------------------------------------------------
// Template definitions.

template <typename T>
Tensor Tensor::FromValues(std::string name, std::vector<int64_t> shape, std::span<const T> values) {
  Tensor t;
  t.name = std::move(name);
  t.datatype = DataTypeOf<T>();
  t.shape = std::move(shape);
  if constexpr (std::is_same_v<T, bool>) {
    t.data.resize(values.size());
    for (size_t i = 0; i < values.size(); ++i) t.data[i] = values[i] ? 1 : 0;
  } else {
    t.data.resize(values.size_bytes());
    if (!values.empty()) std::memcpy(t.data.data(), values.data(), values.size_bytes());
  }
  return t;
}

template <typename T>
absl::StatusOr<std::vector<T>> Tensor::Values() const {
  if (datatype != DataTypeOf<T>()) {
    return absl::InvalidArgumentError(internal::StrCat("tensor '", name, "' is ",
                                                       DataTypeName(datatype), ", not ",
                                                       DataTypeName(DataTypeOf<T>())));
  }
  if (absl::Status s = ValidateTensorData(*this); !s.ok()) return s;
  std::vector<T> out(data.size() / sizeof(T));
  if constexpr (std::is_same_v<T, bool>) {
    for (size_t i = 0; i < out.size(); ++i) out[i] = data[i] != 0;
  } else if (!out.empty()) {
    std::memcpy(out.data(), data.data(), out.size() * sizeof(T));
  }
  return out;
}

}  // namespace heteroaccel::protocol

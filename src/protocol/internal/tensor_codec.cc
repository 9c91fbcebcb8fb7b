#include "protocol/internal/tensor_codec.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "protocol/internal/fp16.h"
#include "protocol/internal/json_writer.h"
#include "protocol/internal/strings.h"

namespace heteroaccel::protocol::internal {
namespace {

using json = nlohmann::json;

enum class Problem { kNone, kWrongType, kOutOfRange, kNotIntegral };

// Where element conversion stopped, for the error message.
struct Failure {
  Problem problem = Problem::kNone;
  int64_t index = 0;
  const json* value = nullptr;
};

// Recursion depth is bounded by the parser's nesting limit.
int64_t CountLeaves(const json& j) {
  if (!j.is_array()) return 1;
  int64_t n = 0;
  for (const json& e : j) n += e.is_array() ? CountLeaves(e) : 1;
  return n;
}

// Calls put(leaf, flat_index) on each non-array value in row-major order;
// stops at the first problem and records it in `failure`.
template <typename Put>
bool ForEachLeaf(const json& j, int64_t* index, Put& put, Failure* failure) {
  if (!j.is_array()) {
    const Problem p = put(j, *index);
    if (p != Problem::kNone) {
      *failure = {p, *index, &j};
      return false;
    }
    ++*index;
    return true;
  }
  for (const json& e : j) {
    if (!ForEachLeaf(e, index, put, failure)) return false;
  }
  return true;
}

// The largest double below 2^63 is exact, so these bounds compare exactly.
constexpr double kTwo63 = 9223372036854775808.0;
constexpr double kTwo64 = 18446744073709551616.0;

Problem ReadSigned(const json& v, int64_t* out) {
  switch (v.type()) {
    case json::value_t::number_integer:
      *out = *v.get_ptr<const json::number_integer_t*>();
      return Problem::kNone;
    case json::value_t::number_unsigned: {
      const uint64_t u = *v.get_ptr<const json::number_unsigned_t*>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Problem::kOutOfRange;
      }
      *out = static_cast<int64_t>(u);
      return Problem::kNone;
    }
    case json::value_t::number_float: {
      const double d = *v.get_ptr<const json::number_float_t*>();
      if (!std::isfinite(d) || d < -kTwo63 || d >= kTwo63) return Problem::kOutOfRange;
      if (d != std::trunc(d)) return Problem::kNotIntegral;
      *out = static_cast<int64_t>(d);
      return Problem::kNone;
    }
    default:
      return Problem::kWrongType;
  }
}

Problem ReadUnsigned(const json& v, uint64_t* out) {
  switch (v.type()) {
    case json::value_t::number_integer:
      // The parser stores only negative integers here.
      if (*v.get_ptr<const json::number_integer_t*>() < 0) return Problem::kOutOfRange;
      *out = static_cast<uint64_t>(*v.get_ptr<const json::number_integer_t*>());
      return Problem::kNone;
    case json::value_t::number_unsigned:
      *out = *v.get_ptr<const json::number_unsigned_t*>();
      return Problem::kNone;
    case json::value_t::number_float: {
      const double d = *v.get_ptr<const json::number_float_t*>();
      if (!std::isfinite(d) || d < 0 || d >= kTwo64) return Problem::kOutOfRange;
      if (d != std::trunc(d)) return Problem::kNotIntegral;
      *out = static_cast<uint64_t>(d);
      return Problem::kNone;
    }
    default:
      return Problem::kWrongType;
  }
}

// null reads as NaN: the encoder writes non-finite values as null.
Problem ReadReal(const json& v, double* out) {
  switch (v.type()) {
    case json::value_t::number_integer:
      *out = static_cast<double>(*v.get_ptr<const json::number_integer_t*>());
      return Problem::kNone;
    case json::value_t::number_unsigned:
      *out = static_cast<double>(*v.get_ptr<const json::number_unsigned_t*>());
      return Problem::kNone;
    case json::value_t::number_float:
      *out = *v.get_ptr<const json::number_float_t*>();
      // A literal such as 1e400 parses to infinity.
      return std::isfinite(*out) ? Problem::kNone : Problem::kOutOfRange;
    case json::value_t::null:
      *out = std::numeric_limits<double>::quiet_NaN();
      return Problem::kNone;
    default:
      return Problem::kWrongType;
  }
}

// Tags for element kinds whose storage type alone does not say how to read them.
struct BoolTag {};
struct HalfTag {};

template <typename Tag>
struct Storage {
  using type = Tag;
};
template <>
struct Storage<BoolTag> {
  using type = uint8_t;
};
template <>
struct Storage<HalfTag> {
  using type = uint16_t;
};

template <typename Tag>
Problem Convert(const json& v, typename Storage<Tag>::type* out) {
  using T = typename Storage<Tag>::type;
  if constexpr (std::is_same_v<Tag, BoolTag>) {
    if (!v.is_boolean()) return Problem::kWrongType;
    *out = *v.get_ptr<const json::boolean_t*>() ? 1 : 0;
  } else if constexpr (std::is_same_v<Tag, HalfTag>) {
    double d = 0;
    if (Problem p = ReadReal(v, &d); p != Problem::kNone) return p;
    *out = DoubleToHalf(d);
    if (std::isfinite(d) && !HalfIsFinite(*out)) return Problem::kOutOfRange;
  } else if constexpr (std::is_same_v<T, float>) {
    double d = 0;
    if (Problem p = ReadReal(v, &d); p != Problem::kNone) return p;
    // Values up to half an ulp above FLT_MAX round to FLT_MAX (the shortest
    // spelling of FLT_MAX, 3.4028235e+38, is one of them); beyond that they
    // would round to infinity.
    constexpr double kFloatOverflow = 340282356779733661637539395458142568448.0;  // 2^128 - 2^103
    constexpr auto kMax = std::numeric_limits<float>::max();
    if (std::fabs(d) >= kFloatOverflow) return Problem::kOutOfRange;
    if (std::fabs(d) > kMax) {
      *out = d > 0 ? kMax : -kMax;
    } else {
      *out = static_cast<float>(d);
    }
  } else if constexpr (std::is_same_v<T, double>) {
    return ReadReal(v, out);
  } else if constexpr (std::is_signed_v<T>) {
    int64_t x = 0;
    if (Problem p = ReadSigned(v, &x); p != Problem::kNone) return p;
    if constexpr (sizeof(T) < sizeof(int64_t)) {
      if (x < std::numeric_limits<T>::min() || x > std::numeric_limits<T>::max()) {
        return Problem::kOutOfRange;
      }
    }
    *out = static_cast<T>(x);
  } else {
    uint64_t x = 0;
    if (Problem p = ReadUnsigned(v, &x); p != Problem::kNone) return p;
    if constexpr (sizeof(T) < sizeof(uint64_t)) {
      if (x > std::numeric_limits<T>::max()) return Problem::kOutOfRange;
    }
    *out = static_cast<T>(x);
  }
  return Problem::kNone;
}

std::string_view Article(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    default:
      return "a number";
  }
}

std::string_view Expected(DataType type) {
  switch (type) {
    case DataType::kBool:
      return "true or false";
    case DataType::kBytes:
      return "a string";
    case DataType::kFp16:
    case DataType::kFp32:
    case DataType::kFp64:
      return "a number";
    default:
      return "an integer";
  }
}

absl::Status LeafError(std::string_view role, const Tensor& t, const Failure& f) {
  const std::string prefix = StrCat(role, " '", t.name, "': data element ", f.index, " ");
  const std::string_view type = DataTypeName(t.datatype);
  switch (f.problem) {
    case Problem::kOutOfRange:
      return absl::InvalidArgumentError(
          StrCat(prefix, "(", f.value->dump(), ") is out of range for ", type));
    case Problem::kNotIntegral:
      return absl::InvalidArgumentError(
          StrCat(prefix, "(", f.value->dump(), ") is not an integer, as ", type, " requires"));
    default:
      return absl::InvalidArgumentError(StrCat(prefix, "is ", Article(*f.value), ", expected ",
                                               Expected(t.datatype), " for ", type));
  }
}

template <typename Tag>
absl::Status DecodeFixed(const json& data, int64_t count, std::string_view role, Tensor* t) {
  using T = typename Storage<Tag>::type;
  t->data.resize(static_cast<size_t>(count) * sizeof(T));
  char* dst = t->data.data();
  auto put = [dst](const json& v, int64_t i) {
    T value{};
    const Problem p = Convert<Tag>(v, &value);
    std::memcpy(dst + static_cast<size_t>(i) * sizeof(T), &value, sizeof(T));
    return p;
  };
  int64_t index = 0;
  Failure failure;
  if (!ForEachLeaf(data, &index, put, &failure)) return LeafError(role, *t, failure);
  return absl::OkStatus();
}

absl::Status DecodeBytes(const json& data, std::string_view role, Tensor* t) {
  t->data.clear();
  std::string* dst = &t->data;
  auto put = [dst](const json& v, int64_t) {
    if (!v.is_string()) return Problem::kWrongType;
    const std::string& s = *v.get_ptr<const json::string_t*>();
    if (s.size() > std::numeric_limits<uint32_t>::max()) return Problem::kOutOfRange;
    const auto len = static_cast<uint32_t>(s.size());
    dst->append(reinterpret_cast<const char*>(&len), sizeof(len));
    dst->append(s);
    return Problem::kNone;
  };
  int64_t index = 0;
  Failure failure;
  if (!ForEachLeaf(data, &index, put, &failure)) return LeafError(role, *t, failure);
  return absl::OkStatus();
}

// Appends each complete element of `data` read as T, comma separated.
template <typename T, typename Write>
void AppendEach(std::string* out, std::string_view data, Write write) {
  const size_t n = data.size() / sizeof(T);
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out->push_back(',');
    T v;
    std::memcpy(&v, data.data() + i * sizeof(T), sizeof(T));
    write(out, v);
  }
}

template <typename T>
void AppendInts(std::string* out, std::string_view data) {
  AppendEach<T>(out, data, [](std::string* o, T v) { AppendJsonInt(o, v); });
}

void AppendBytesElements(std::string* out, std::string_view data) {
  size_t pos = 0;
  bool first = true;
  while (data.size() - pos >= 4) {
    uint32_t len;
    std::memcpy(&len, data.data() + pos, sizeof(len));
    pos += 4;
    if (len > data.size() - pos) return;
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(out, data.substr(pos, len));
    pos += len;
  }
}

}  // namespace

absl::Status DecodeJsonData(const json& data, int64_t expected_count, std::string_view role,
                            Tensor* tensor) {
  const int64_t count = CountLeaves(data);
  if (count != expected_count) {
    return absl::InvalidArgumentError(StrCat(role, " '", tensor->name, "': shape ",
                                             ShapeString(tensor->shape), " needs ", expected_count,
                                             " elements, got ", count));
  }
  switch (tensor->datatype) {
    case DataType::kBool:
      return DecodeFixed<BoolTag>(data, count, role, tensor);
    case DataType::kUint8:
      return DecodeFixed<uint8_t>(data, count, role, tensor);
    case DataType::kUint16:
      return DecodeFixed<uint16_t>(data, count, role, tensor);
    case DataType::kUint32:
      return DecodeFixed<uint32_t>(data, count, role, tensor);
    case DataType::kUint64:
      return DecodeFixed<uint64_t>(data, count, role, tensor);
    case DataType::kInt8:
      return DecodeFixed<int8_t>(data, count, role, tensor);
    case DataType::kInt16:
      return DecodeFixed<int16_t>(data, count, role, tensor);
    case DataType::kInt32:
      return DecodeFixed<int32_t>(data, count, role, tensor);
    case DataType::kInt64:
      return DecodeFixed<int64_t>(data, count, role, tensor);
    case DataType::kFp16:
      return DecodeFixed<HalfTag>(data, count, role, tensor);
    case DataType::kFp32:
      return DecodeFixed<float>(data, count, role, tensor);
    case DataType::kFp64:
      return DecodeFixed<double>(data, count, role, tensor);
    case DataType::kBytes:
      return DecodeBytes(data, role, tensor);
  }
  return absl::InvalidArgumentError(StrCat(role, " '", tensor->name, "' has an invalid datatype"));
}

absl::Status DecodeBinaryData(std::string_view bytes, std::string_view role, Tensor* tensor) {
  tensor->data.assign(bytes);
  return ValidateTensorData(*tensor, role);
}

void AppendJsonData(std::string* out, const Tensor& tensor) {
  const std::string_view data = tensor.data;
  out->push_back('[');
  switch (tensor.datatype) {
    case DataType::kBool:
      AppendEach<uint8_t>(out, data,
                          [](std::string* o, uint8_t v) { o->append(v != 0 ? "true" : "false"); });
      break;
    case DataType::kUint8:
      AppendInts<uint8_t>(out, data);
      break;
    case DataType::kUint16:
      AppendInts<uint16_t>(out, data);
      break;
    case DataType::kUint32:
      AppendInts<uint32_t>(out, data);
      break;
    case DataType::kUint64:
      AppendInts<uint64_t>(out, data);
      break;
    case DataType::kInt8:
      AppendInts<int8_t>(out, data);
      break;
    case DataType::kInt16:
      AppendInts<int16_t>(out, data);
      break;
    case DataType::kInt32:
      AppendInts<int32_t>(out, data);
      break;
    case DataType::kInt64:
      AppendInts<int64_t>(out, data);
      break;
    case DataType::kFp16:
      AppendEach<uint16_t>(out, data, [](std::string* o, uint16_t v) { AppendJsonHalf(o, v); });
      break;
    case DataType::kFp32:
      AppendEach<float>(out, data, [](std::string* o, float v) { AppendJsonNumber(o, v); });
      break;
    case DataType::kFp64:
      AppendEach<double>(out, data, [](std::string* o, double v) { AppendJsonNumber(o, v); });
      break;
    case DataType::kBytes:
      AppendBytesElements(out, data);
      break;
  }
  out->push_back(']');
}

}  // namespace heteroaccel::protocol::internal

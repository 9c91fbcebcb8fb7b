// Appending JSON text directly into a std::string.
//
// Responses carry large numeric arrays; writing them element by element with
// std::to_chars is several times faster than building an nlohmann::json DOM,
// and it gives float32 values their shortest round-trip spelling (a DOM would
// widen them to double and print 0.100000001490116). Pure functions,
// thread-safe; they never throw except std::bad_alloc.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "nlohmann/json.hpp"

namespace heteroaccel::protocol::internal {

// Appends `s` as a quoted JSON string. Invalid UTF-8 sequences become U+FFFD
// so the result is always valid JSON.
void AppendJsonString(std::string* out, std::string_view s);

// Shortest text that reads back to the same value; NaN and infinities are
// written as null (JSON has no spelling for them), negative zero as -0.0.
void AppendJsonNumber(std::string* out, float v);
void AppendJsonNumber(std::string* out, double v);
// A binary16 bit pattern, shortest decimal that reads back to it.
void AppendJsonHalf(std::string* out, uint16_t bits);

template <typename Int>
void AppendJsonInt(std::string* out, Int v) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, result.ptr);
}

// Serialises an arbitrary JSON value; invalid UTF-8 in its strings becomes
// U+FFFD instead of throwing.
void AppendJsonValue(std::string* out, const nlohmann::json& value);

}  // namespace heteroaccel::protocol::internal

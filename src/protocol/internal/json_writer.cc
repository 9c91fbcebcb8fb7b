#include "protocol/internal/json_writer.h"

#include <cmath>

#include "protocol/internal/fp16.h"
#include "protocol/internal/utf8.h"

namespace heteroaccel::protocol::internal {
namespace {

void AppendEscaped(std::string* out, unsigned char c) {
  switch (c) {
    case '"':
      out->append("\\\"");
      return;
    case '\\':
      out->append("\\\\");
      return;
    case '\b':
      out->append("\\b");
      return;
    case '\f':
      out->append("\\f");
      return;
    case '\n':
      out->append("\\n");
      return;
    case '\r':
      out->append("\\r");
      return;
    case '\t':
      out->append("\\t");
      return;
    default:
      break;
  }
  constexpr char kHex[] = "0123456789abcdef";
  const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
  out->append(esc, sizeof(esc));
}

}  // namespace

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  size_t run_start = 0;  // Start of bytes that need no escaping.
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    const size_t len = c < 0x80 ? 1 : Utf8SequenceLength(s, i);
    if (len > 1) {
      i += len;
      continue;
    }
    out->append(s.data() + run_start, i - run_start);
    if (len == 1) {
      AppendEscaped(out, c);
    } else {
      out->append("\\ufffd");
    }
    ++i;
    run_start = i;
  }
  out->append(s.data() + run_start, s.size() - run_start);
  out->push_back('"');
}

void AppendJsonNumber(std::string* out, float v) {
  if (!std::isfinite(v)) {
    out->append("null");
    return;
  }
  if (v == 0 && std::signbit(v)) {
    out->append("-0.0");  // "-0" would read back as the integer 0.
    return;
  }
  char buf[32];
  const auto result = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, result.ptr);
}

void AppendJsonNumber(std::string* out, double v) {
  if (!std::isfinite(v)) {
    out->append("null");
    return;
  }
  if (v == 0 && std::signbit(v)) {
    out->append("-0.0");  // "-0" would read back as the integer 0.
    return;
  }
  char buf[32];
  const auto result = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, result.ptr);
}

void AppendJsonHalf(std::string* out, uint16_t bits) {
  if (!HalfIsFinite(bits)) {
    out->append("null");
    return;
  }
  const double value = HalfToFloat(bits);
  char buf[32];
  // Binary16 needs at most 5 significant digits; try fewer first. The value
  // read back is then printed in its shortest double form, so 1e+03 becomes
  // 1000 and 0.0999755859375 becomes 0.1.
  for (int precision = 1; precision <= 5; ++precision) {
    const auto printed =
        std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::general, precision);
    double parsed = 0;
    std::from_chars(buf, printed.ptr, parsed);
    if (DoubleToHalf(parsed) == bits || precision == 5) {
      AppendJsonNumber(out, precision == 5 ? value : parsed);
      return;
    }
  }
}

void AppendJsonValue(std::string* out, const nlohmann::json& value) {
  try {
    out->append(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } catch (const nlohmann::json::exception&) {
    out->append("null");
  }
}

}  // namespace heteroaccel::protocol::internal

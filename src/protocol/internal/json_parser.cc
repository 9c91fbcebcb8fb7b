#include "protocol/internal/json_parser.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <system_error>
#include <utility>

#include "protocol/internal/strings.h"
#include "protocol/internal/utf8.h"

namespace heteroaccel::protocol::internal {
namespace {

using json = nlohmann::json;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendUtf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// For a grammatical JSON number that std::from_chars found out of range:
// whether its magnitude is at least 1 (overflow) rather than below 1
// (underflow to zero).
bool MagnitudeAtLeastOne(std::string_view number) {
  size_t i = number[0] == '-' ? 1 : 0;
  int64_t int_digits = 0;     // Integer digits after leading zeros.
  int64_t leading_zeros = 0;  // Fraction zeros before the first non-zero digit.
  bool nonzero = false;
  for (; i < number.size() && IsDigit(number[i]); ++i) {
    if (number[i] != '0' || nonzero) {
      nonzero = true;
      ++int_digits;
    }
  }
  if (i < number.size() && number[i] == '.') {
    for (++i; i < number.size() && IsDigit(number[i]); ++i) {
      if (!nonzero && number[i] == '0') {
        ++leading_zeros;
      } else {
        nonzero = true;
      }
    }
  }
  int64_t exponent = 0;
  bool negative_exponent = false;
  if (i < number.size()) {  // 'e' or 'E'
    ++i;
    if (number[i] == '+' || number[i] == '-') negative_exponent = number[i++] == '-';
    for (; i < number.size(); ++i) {
      exponent = std::min<int64_t>(exponent * 10 + (number[i] - '0'), int64_t{1} << 50);
    }
  }
  if (negative_exponent) exponent = -exponent;
  return (int_digits > 0 ? int_digits + exponent : exponent - leading_zeros) > 0;
}

class Reader {
 public:
  Reader(std::string_view text, size_t max_depth)
      : text_(text), max_depth_(std::min(max_depth, kMaxSupportedJsonDepth)) {}

  absl::StatusOr<json> Parse() {
    if (text_.substr(0, 3) == "\xef\xbb\xbf") pos_ = 3;
    json root;
    SkipWhitespace();
    if (ReadValue(&root, 0)) {
      SkipWhitespace();
      if (pos_ == text_.size()) return root;
      Fail("unexpected text after the JSON value");
    }
    if (too_deep_) {
      return absl::InvalidArgumentError(StrCat("JSON is nested deeper than ", max_depth_,
                                               " levels (at byte offset ", error_pos_, ")"));
    }
    return absl::InvalidArgumentError(
        StrCat("malformed JSON at byte offset ", error_pos_, ": ", error_));
  }

 private:
  bool Fail(std::string_view what) {
    error_ = what;
    error_pos_ = pos_;
    return false;
  }

  [[nodiscard]] bool AtEnd() const { return pos_ >= text_.size(); }

  void SkipWhitespace() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return;
      ++pos_;
    }
  }

  // `depth` is the nesting of the container holding this value.
  bool ReadValue(json* out, size_t depth) {
    if (AtEnd()) return Fail("unexpected end of input, expected a value");
    const char c = text_[pos_];
    switch (c) {
      case '{':
        return ReadObject(out, depth + 1);
      case '[':
        return ReadArray(out, depth + 1);
      case '"': {
        std::string s;
        if (!ReadString(&s)) return false;
        *out = std::move(s);
        return true;
      }
      case 't':
        return ReadLiteral("true", json(true), out);
      case 'f':
        return ReadLiteral("false", json(false), out);
      case 'n':
        return ReadLiteral("null", json(nullptr), out);
      default:
        if (c == '-' || IsDigit(c)) return ReadNumber(out);
        return Fail("expected a value");
    }
  }

  bool ReadLiteral(std::string_view word, json value, json* out) {
    if (text_.substr(pos_, word.size()) != word) return Fail("invalid literal");
    pos_ += word.size();
    *out = std::move(value);
    return true;
  }

  bool EnterContainer(size_t depth) {
    if (depth <= max_depth_) return true;
    too_deep_ = true;
    return Fail("too deep");
  }

  bool ReadArray(json* out, size_t depth) {
    if (!EnterContainer(depth)) return false;
    ++pos_;  // '['
    *out = json::array();
    auto& array = out->get_ref<json::array_t&>();
    SkipWhitespace();
    if (!AtEnd() && text_[pos_] == ']') {
      ++pos_;
      return true;
    }
    while (true) {
      SkipWhitespace();
      array.emplace_back();
      if (!ReadValue(&array.back(), depth)) return false;
      SkipWhitespace();
      if (AtEnd()) return Fail("unexpected end of input in an array");
      const char c = text_[pos_];
      if (c != ',' && c != ']') return Fail("expected ',' or ']' in an array");
      ++pos_;
      if (c == ']') return true;
    }
  }

  bool ReadObject(json* out, size_t depth) {
    if (!EnterContainer(depth)) return false;
    ++pos_;  // '{'
    *out = json::object();
    auto& object = out->get_ref<json::object_t&>();
    SkipWhitespace();
    if (!AtEnd() && text_[pos_] == '}') {
      ++pos_;
      return true;
    }
    while (true) {
      SkipWhitespace();
      if (AtEnd() || text_[pos_] != '"') return Fail("expected a string key in an object");
      std::string key;
      if (!ReadString(&key)) return false;
      SkipWhitespace();
      if (AtEnd() || text_[pos_] != ':') return Fail("expected ':' after an object key");
      ++pos_;
      SkipWhitespace();
      // A repeated key keeps its last value, as nlohmann::json::parse does.
      if (!ReadValue(&object[std::move(key)], depth)) return false;
      SkipWhitespace();
      if (AtEnd()) return Fail("unexpected end of input in an object");
      const char c = text_[pos_];
      if (c != ',' && c != '}') return Fail("expected ',' or '}' in an object");
      ++pos_;
      if (c == '}') return true;
    }
  }

  bool ReadString(std::string* out) {
    ++pos_;  // Opening quote.
    while (true) {
      const size_t run = pos_;
      while (pos_ < text_.size()) {
        const auto c = static_cast<unsigned char>(text_[pos_]);
        if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
        ++pos_;
      }
      out->append(text_.data() + run, pos_ - run);
      if (AtEnd()) return Fail("unterminated string");
      const auto c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) return Fail("control character in a string; escape it");
      if (c >= 0x80) {
        const size_t len = Utf8SequenceLength(text_, pos_);
        if (len == 0) return Fail("invalid UTF-8 in a string");
        out->append(text_.data() + pos_, len);
        pos_ += len;
        continue;
      }
      if (!ReadEscape(out)) return false;
    }
  }

  bool ReadEscape(std::string* out) {
    ++pos_;  // Backslash.
    if (AtEnd()) return Fail("unterminated escape in a string");
    const char e = text_[pos_];
    char plain = 0;
    switch (e) {
      case '"':
        plain = '"';
        break;
      case '\\':
        plain = '\\';
        break;
      case '/':
        plain = '/';
        break;
      case 'b':
        plain = '\b';
        break;
      case 'f':
        plain = '\f';
        break;
      case 'n':
        plain = '\n';
        break;
      case 'r':
        plain = '\r';
        break;
      case 't':
        plain = '\t';
        break;
      case 'u':
        return ReadUnicodeEscape(out);
      default:
        return Fail("invalid escape in a string");
    }
    ++pos_;
    out->push_back(plain);
    return true;
  }

  // Reads the XXXX of \uXXXX with pos_ on the 'u'.
  bool ReadHex4(uint32_t* out) {
    if (text_.size() - pos_ < 5) return Fail("truncated \\u escape");
    uint32_t v = 0;
    for (size_t i = 1; i <= 4; ++i) {
      const int h = HexValue(text_[pos_ + i]);
      if (h < 0) return Fail("invalid hex digit in a \\u escape");
      v = v * 16 + static_cast<uint32_t>(h);
    }
    pos_ += 5;
    *out = v;
    return true;
  }

  bool ReadUnicodeEscape(std::string* out) {
    uint32_t cp = 0;
    if (!ReadHex4(&cp)) return false;
    if (cp >= 0xdc00 && cp <= 0xdfff) return Fail("unpaired low surrogate in a \\u escape");
    if (cp >= 0xd800 && cp <= 0xdbff) {
      if (text_.substr(pos_, 2) != "\\u") return Fail("high surrogate without a low surrogate");
      ++pos_;
      uint32_t low = 0;
      if (!ReadHex4(&low)) return false;
      if (low < 0xdc00 || low > 0xdfff) return Fail("high surrogate without a low surrogate");
      cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
    }
    AppendUtf8(out, cp);
    return true;
  }

  void SkipDigits() {
    while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
  }

  bool ReadNumber(json* out) {
    const size_t start = pos_;
    const bool negative = text_[pos_] == '-';
    if (negative) ++pos_;
    if (AtEnd() || !IsDigit(text_[pos_])) return Fail("expected a digit");
    if (text_[pos_] == '0') {
      ++pos_;
    } else {
      SkipDigits();
    }
    bool integral = true;
    if (!AtEnd() && text_[pos_] == '.') {
      ++pos_;
      if (AtEnd() || !IsDigit(text_[pos_])) return Fail("expected a digit after '.'");
      SkipDigits();
      integral = false;
    }
    if (!AtEnd() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (!AtEnd() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (AtEnd() || !IsDigit(text_[pos_])) return Fail("expected a digit in the exponent");
      SkipDigits();
      integral = false;
    }
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    // Integers that fit keep their exact kind; larger ones become doubles,
    // as in nlohmann::json.
    if (integral && negative) {
      int64_t v = 0;
      if (std::from_chars(first, last, v).ec == std::errc()) {
        *out = v;
        return true;
      }
    } else if (integral) {
      uint64_t v = 0;
      if (std::from_chars(first, last, v).ec == std::errc()) {
        *out = v;
        return true;
      }
    }
    double d = 0;
    const std::errc ec = std::from_chars(first, last, d).ec;
    if (ec == std::errc::result_out_of_range) {
      if (MagnitudeAtLeastOne(text_.substr(start, pos_ - start))) {
        pos_ = start;
        return Fail("number overflow");
      }
      d = negative ? -0.0 : 0.0;
    } else if (ec != std::errc()) {
      pos_ = start;
      return Fail("invalid number");
    }
    *out = d;
    return true;
  }

  std::string_view text_;
  size_t max_depth_;
  size_t pos_ = 0;
  std::string_view error_;
  size_t error_pos_ = 0;
  bool too_deep_ = false;
};

}  // namespace

absl::StatusOr<json> ParseJsonText(std::string_view text, size_t max_depth) {
  return Reader(text, max_depth).Parse();
}

}  // namespace heteroaccel::protocol::internal

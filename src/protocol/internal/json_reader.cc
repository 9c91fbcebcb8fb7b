#include "protocol/internal/json_reader.h"

#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <new>
#include <optional>
#include <string>
#include <utility>

#include "protocol/internal/strings.h"

namespace heteroaccel::protocol::internal {
namespace {

using json = nlohmann::json;
namespace dom = simdjson::dom;

static_assert(kJsonReadPadding == simdjson::SIMDJSON_PADDING);

constexpr std::string_view kBom = "\xef\xbb\xbf";

void ToNlohmann(dom::element e, json* out);

// Appends a validated simdjson element to `items`, constructing scalars in
// place (most elements of a request are numbers in one long array).
void Append(dom::element e, json::array_t* items) {
  switch (e.type()) {
    case dom::element_type::INT64: {
      // nlohmann keeps non-negative integers unsigned.
      const int64_t v = e.get_int64().value_unsafe();
      if (v >= 0) {
        items->emplace_back(static_cast<uint64_t>(v));
      } else {
        items->emplace_back(v);
      }
      return;
    }
    case dom::element_type::UINT64:
      items->emplace_back(e.get_uint64().value_unsafe());
      return;
    case dom::element_type::DOUBLE:
      items->emplace_back(e.get_double().value_unsafe());
      return;
    case dom::element_type::STRING:
      items->emplace_back(e.get_string().value_unsafe());
      return;
    default:
      ToNlohmann(e, &items->emplace_back());
      return;
  }
}

// Converts a validated simdjson element; recursion depth is bounded by the
// parser's max_depth.
void ToNlohmann(dom::element e, json* out) {
  switch (e.type()) {
    case dom::element_type::ARRAY: {
      const dom::array array = e.get_array().value_unsafe();
      *out = json::array();
      auto& items = out->get_ref<json::array_t&>();
      items.reserve(array.size());  // Saturates at 2^24 - 1: a hint only.
      for (const dom::element item : array) Append(item, &items);
      return;
    }
    case dom::element_type::OBJECT: {
      const dom::object object = e.get_object().value_unsafe();
      *out = json::object();
      auto& members = out->get_ref<json::object_t&>();
      // A repeated key keeps its last value, as nlohmann::json::parse does.
      for (const dom::key_value_pair member : object) {
        ToNlohmann(member.value, &members[std::string(member.key)]);
      }
      return;
    }
    case dom::element_type::INT64: {
      const int64_t v = e.get_int64().value_unsafe();
      if (v >= 0) {
        *out = static_cast<uint64_t>(v);
      } else {
        *out = v;
      }
      return;
    }
    case dom::element_type::UINT64:
      *out = e.get_uint64().value_unsafe();
      return;
    case dom::element_type::DOUBLE:
      *out = e.get_double().value_unsafe();
      return;
    case dom::element_type::STRING:
      *out = e.get_string().value_unsafe();
      return;
    case dom::element_type::BOOL:
      *out = e.get_bool().value_unsafe();
      return;
    case dom::element_type::NULL_VALUE:
      *out = nullptr;
      return;
  }
}

// Byte offset of the bracket that opens nesting level max_depth + 1, for text
// that is well-formed up to there.
size_t DepthExcessOffset(std::string_view text, size_t max_depth) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return text.size();
}

absl::Status TooDeep(std::string_view text, size_t max_depth) {
  return absl::InvalidArgumentError(StrCat("JSON is nested deeper than ", max_depth,
                                           " levels (at byte offset ",
                                           DepthExcessOffset(text, max_depth), ")"));
}

// A SAX handler that only validates, bounds nesting and keeps nlohmann's
// first error.
class Validator : public nlohmann::json_sax<json> {
 public:
  explicit Validator(size_t max_depth) : max_depth_(max_depth) {}

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(size_t) override { return Enter(); }
  bool key(string_t&) override { return true; }
  bool end_object() override { return Leave(); }
  bool start_array(size_t) override { return Enter(); }
  bool end_array() override { return Leave(); }

  bool parse_error(size_t position, const std::string& last_token,
                   const nlohmann::detail::exception& e) override {
    error_ = Describe(position, last_token, e);
    return false;
  }

  [[nodiscard]] bool too_deep() const { return too_deep_; }
  // (byte offset, description) of the first error, if any.
  [[nodiscard]] const std::optional<std::pair<size_t, std::string>>& error() const {
    return error_;
  }

 private:
  bool Enter() {
    if (++depth_ <= max_depth_) return true;
    too_deep_ = true;
    return false;
  }
  bool Leave() {
    --depth_;
    return true;
  }

  // nlohmann's message without its "[json.exception...] parse error at line
  // L, column C: " prefix and the token it quotes (a whole 100 KB string, say).
  static std::pair<size_t, std::string> Describe(size_t position, const std::string& last_token,
                                                 const nlohmann::detail::exception& e) {
    std::string what = e.what();
    if (const size_t quoted = what.find("; last read: '" + last_token + "'");
        quoted != std::string::npos) {
      what.erase(quoted, 15 + last_token.size());
    }
    constexpr std::string_view kSyntax = "syntax error while parsing ";
    if (const size_t syntax = what.find(kSyntax); syntax != std::string::npos) {
      what.erase(0, syntax + kSyntax.size());
      what.insert(0, "syntax error in ");
    } else if (const size_t bracket = what.find("] "); bracket != std::string::npos) {
      what.erase(0, bracket + 2);  // "number overflow parsing '1e400'"
    }
    constexpr size_t kMaxChars = 160;
    if (what.size() > kMaxChars) what = what.substr(0, kMaxChars) + "...";
    // `position` counts the bytes read: the offending one for syntax errors,
    // the whole number for out-of-range numbers (which are reported at their start).
    const size_t offset = e.id == 406 ? position - std::min(position, last_token.size())
                                      : position - std::min<size_t>(position, 1);
    return {offset, std::move(what)};
  }

  size_t max_depth_;
  size_t depth_ = 0;
  bool too_deep_ = false;
  std::optional<std::pair<size_t, std::string>> error_;
};

// The slow path for text simdjson rejected other than for depth: nlohmann
// either accepts it (integers beyond 64 bits) or locates the problem.
absl::StatusOr<json> ReadRejected(std::string_view text, size_t max_depth) {
  Validator validator(max_depth);
  const bool valid = json::sax_parse(text, &validator);
  if (validator.too_deep()) return TooDeep(text, max_depth);
  // nlohmann ends its input at a NUL byte; JSON has no place for one.
  const size_t nul = text.find('\0');
  const auto& error = validator.error();
  if (nul != std::string_view::npos && (!error.has_value() || error->first >= nul)) {
    return absl::InvalidArgumentError(
        StrCat("malformed JSON at byte offset ", nul, ": unexpected NUL byte"));
  }
  if (error.has_value()) {
    return absl::InvalidArgumentError(StrCat("malformed JSON at byte offset ",
                                             std::min(error->first, text.size()), ": ",
                                             error->second));
  }
  if (!valid) return absl::InvalidArgumentError("malformed JSON");  // Not reached.
  return json::parse(text);
}

// Documents up to this many bytes are read with the calling thread's parser.
constexpr size_t kReusedParserCapacity = 64 << 10;

dom::parser& SmallDocumentParser() {
  thread_local dom::parser parser;
  return parser;
}

}  // namespace

absl::StatusOr<json> ReadJson(JsonText input, size_t max_depth) {
  max_depth = std::min(max_depth, kMaxJsonReaderDepth);
  std::string_view text = input.text;
  if (text.substr(0, kBom.size()) == kBom) text.remove_prefix(kBom.size());

  // Setting up a parser costs about a microsecond, a third of reading a small
  // request: each thread keeps one for small documents. Large ones get their
  // own, whose setup is lost in the reading (measured), so that no thread
  // holds on to the buffers of the largest body it ever saw.
  std::optional<dom::parser> own;
  dom::parser* parser = &SmallDocumentParser();
  if (text.size() > kReusedParserCapacity) parser = &own.emplace();
  const size_t capacity = std::max(text.size(), kReusedParserCapacity);
  const size_t depth = std::max<size_t>(max_depth, 1);  // Room for a scalar at depth 0.
  if (parser->capacity() != capacity || parser->max_depth() != depth) {
    if (const simdjson::error_code e = parser->allocate(capacity, depth); e != simdjson::SUCCESS) {
      if (e == simdjson::MEMALLOC) throw std::bad_alloc();
      return absl::InvalidArgumentError(
          StrCat("cannot read ", text.size(), "-byte JSON text: ", simdjson::error_message(e)));
    }
  }
  const bool padded = input.readable_after >= kJsonReadPadding;
  const simdjson::simdjson_result<dom::element> root =
      parser->parse(text.data(), text.size(), /*realloc_if_needed=*/!padded);
  switch (root.error()) {
    case simdjson::SUCCESS:
      if (max_depth == 0 && (root.value_unsafe().is_array() || root.value_unsafe().is_object())) {
        return TooDeep(input.text, max_depth);
      }
      break;
    case simdjson::DEPTH_ERROR:
      return TooDeep(input.text, max_depth);
    case simdjson::MEMALLOC:
      throw std::bad_alloc();
    default:
      return ReadRejected(input.text, max_depth);
  }
  json out;
  ToNlohmann(root.value_unsafe(), &out);
  return out;
}

}  // namespace heteroaccel::protocol::internal

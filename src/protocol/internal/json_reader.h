// The JSON reader for request and response bodies: simdjson's DOM parser,
// converted to the nlohmann::json DOM the rest of the protocol code walks.
//
// Why simdjson: request bodies are long arrays of numbers or long base64
// strings; simdjson finds the structure with SIMD instructions and parses
// numbers without a detour through strtod. It matched or beat the
// hand-written reader it replaced on every v2 body, base64 images by 4-5x
// (BENCHMARKS.md, "JSON reader: simdjson vs hand-written").
//
// Accepts exactly the text nlohmann::json::parse accepts and builds the DOM
// it would build (last duplicate key wins, leading UTF-8 BOM skipped), with
// two deliberate differences the fuzzer knows about: nlohmann stops at a NUL
// byte between tokens and ignores what follows, while here any NUL byte is an
// error; and "-0" reads as the unsigned integer 0, not as a signed one
// (simdjson does not tell them apart; they compare equal). simdjson rejects
// integers that need more than 64 bits, which nlohmann reads as doubles; such
// text, and all other text simdjson rejects, is read again by nlohmann, which
// accepts the former and, for the rest, says what is wrong and at which byte
// (simdjson only gives an error code). So rejected text costs a second
// reading, by nlohmann's slower lexer, up to the error.
//
// simdjson reads up to kJsonReadPadding bytes past the end of the text (their
// values do not matter); where the caller cannot vouch for them the text is
// copied into a padded buffer first.
//
// Nesting is bounded by `max_depth`, so hostile input cannot exhaust the
// stack. Thread-safe: each calling thread keeps one parser for documents up
// to 64 KiB (about 1 MB of buffers), as setting one up costs about as much as
// reading a small request. Never throws except std::bad_alloc.
#pragma once

#include <cstddef>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace heteroaccel::protocol::internal {

// Depths above this are clamped to it: the DOM conversion recurses once per level.
inline constexpr size_t kMaxJsonReaderDepth = 1000;

// simdjson's SIMDJSON_PADDING (checked in json_reader.cc).
inline constexpr size_t kJsonReadPadding = 64;

// The JSON text to read and how many bytes after its end may be read (part of
// the same allocation, e.g. a binary section or a string's spare capacity).
struct JsonText {
  std::string_view text;
  size_t readable_after = 0;
};

// InvalidArgument "malformed JSON at byte offset N: ..." or "JSON is nested
// deeper than N levels (at byte offset M)" on bad input. The top-level value
// is depth 1 if it is an array or object.
absl::StatusOr<nlohmann::json> ReadJson(JsonText json, size_t max_depth);

}  // namespace heteroaccel::protocol::internal

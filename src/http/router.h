// Router: the route table that maps (method, path) to a Handler.
//
// Patterns are absolute paths whose segments are literals or "{name}"
// placeholders, e.g. "/v2/models/{model}/versions/{version}/infer". A
// placeholder matches exactly one non-empty segment. When several patterns
// match a path, the one with the most literal segments wins, then the one whose
// literals come first ("/v2/models/stats" beats "/v2/models/{model}"). If paths
// match but none registered the method, the lookup reports "method not allowed"
// with the methods that would have matched, so the server can answer 405 with
// an Allow header instead of 404.
//
// Ownership and threading: the Router owns its handlers. Build it completely
// with Add() before handing it to a Server; Find() is const, allocation-light
// (it allocates only for the parameters it returns) and safe to call from many
// threads at once.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/message.h"

namespace heteroaccel::http {

class Router {
 public:
  struct Match {
    enum class Result { kFound, kNotFound, kMethodNotAllowed };

    Result result = Result::kNotFound;
    // Points into the Router; valid while it lives. Set only when kFound.
    const Handler* handler = nullptr;
    PathParams params;  // set only when kFound
    std::string allow;  // "GET, POST" when kMethodNotAllowed

    bool found() const { return result == Result::kFound; }
  };

  // Registers `handler` for `method` on `pattern`. The pattern must start with
  // '/'; a trailing '/' is ignored. Registering the same method and pattern
  // again (placeholder names aside) replaces the earlier handler. A malformed
  // pattern is a programming error (asserted in debug builds; in release a
  // segment that is not a well-formed "{name}" is treated as a literal).
  void Add(std::string method, std::string pattern, Handler handler);

  // Looks up `raw_path`: the request target's path as sent, still
  // percent-encoded and without the query. Segments are decoded before they
  // are compared, so "%7B" never acts as a placeholder and an encoded '/' stays
  // inside its segment.
  Match Find(std::string_view method, std::string_view raw_path) const;

  size_t size() const;  // number of (method, pattern) routes

 private:
  struct Segment {
    std::string text;  // the literal, or the placeholder's name
    bool is_param = false;
  };
  struct Pattern {
    std::vector<Segment> segments;
    int literal_count = 0;
    unsigned literal_mask = 0;  // bit (kMaxSegments - 1 - i) set when segment i is literal
    std::vector<std::pair<std::string, Handler>> methods;
  };

  static constexpr size_t kMaxSegments = 32;

  std::vector<Pattern> patterns_;
};

}  // namespace heteroaccel::http

#include "http/router.h"

#include <algorithm>
#include <array>
#include <cassert>

#include "http/internal/url.h"

namespace heteroaccel::http {
namespace {

// Splits "/a/b/" into {"a", "b"}: the leading '/' and one trailing '/' are
// dropped; "/" has no segments. Returns false when there are more than `max`.
template <size_t N>
bool SplitSegments(std::string_view path, std::array<std::string_view, N>& out, size_t& count) {
  count = 0;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.empty()) return true;
  while (true) {
    if (count == N) return false;
    const size_t slash = path.find('/');
    out[count++] = path.substr(0, slash);
    if (slash == std::string_view::npos) return true;
    path.remove_prefix(slash + 1);
  }
}

bool IsPlaceholder(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}' &&
         segment.find_first_of("{}/", 1) == segment.size() - 1;
}

}  // namespace

void Router::Add(std::string method, std::string pattern, Handler handler) {
  assert(!pattern.empty() && pattern.front() == '/');
  std::array<std::string_view, kMaxSegments> parts;
  size_t count = 0;
  [[maybe_unused]] const bool fits = SplitSegments(pattern, parts, count);
  assert(fits);

  Pattern parsed;
  for (size_t i = 0; i < count; ++i) {
    Segment segment;
    assert(parts[i].find_first_of("{}") == std::string_view::npos || IsPlaceholder(parts[i]));
    segment.is_param = IsPlaceholder(parts[i]);
    if (segment.is_param) {
      segment.text = std::string(parts[i].substr(1, parts[i].size() - 2));
    } else {
      segment.text = std::string(parts[i]);
      ++parsed.literal_count;
      parsed.literal_mask |= 1u << (kMaxSegments - 1 - i);
    }
    parsed.segments.push_back(std::move(segment));
  }

  // Patterns that differ only in placeholder names share one entry.
  auto same_shape = [&parsed](const Pattern& p) {
    if (p.segments.size() != parsed.segments.size()) return false;
    for (size_t i = 0; i < p.segments.size(); ++i) {
      const Segment& a = p.segments[i];
      const Segment& b = parsed.segments[i];
      if (a.is_param != b.is_param || (!a.is_param && a.text != b.text)) return false;
    }
    return true;
  };
  auto it = std::find_if(patterns_.begin(), patterns_.end(), same_shape);
  if (it == patterns_.end()) {
    patterns_.push_back(std::move(parsed));
    it = std::prev(patterns_.end());
  }
  for (auto& [existing_method, existing_handler] : it->methods) {
    if (existing_method == method) {
      existing_handler = std::move(handler);
      return;
    }
  }
  it->methods.emplace_back(std::move(method), std::move(handler));
}

Router::Match Router::Find(std::string_view method, std::string_view raw_path) const {
  Match match;
  std::array<std::string_view, kMaxSegments> segments;
  size_t count = 0;
  if (!SplitSegments(raw_path, segments, count)) return match;

  // Decoding is rare on the hot path; only paths with escapes pay for storage.
  std::vector<std::string> decoded;
  if (raw_path.find('%') != std::string_view::npos) {
    decoded.resize(count);
    for (size_t i = 0; i < count; ++i) {
      if (internal::PercentDecode(segments[i], decoded[i])) segments[i] = decoded[i];
    }
  }

  auto path_matches = [&](const Pattern& p) {
    if (p.segments.size() != count) return false;
    for (size_t i = 0; i < count; ++i) {
      const Segment& s = p.segments[i];
      if (s.is_param ? segments[i].empty() : s.text != segments[i]) return false;
    }
    return true;
  };

  const Pattern* best = nullptr;
  const Handler* best_handler = nullptr;
  bool any_path_match = false;
  for (const Pattern& p : patterns_) {
    if (!path_matches(p)) continue;
    any_path_match = true;
    if (best != nullptr &&
        (p.literal_count < best->literal_count ||
         (p.literal_count == best->literal_count && p.literal_mask <= best->literal_mask))) {
      continue;
    }
    for (const auto& [m, handler] : p.methods) {
      if (m == method) {
        best = &p;
        best_handler = &handler;
        break;
      }
    }
  }

  if (best != nullptr) {
    match.result = Match::Result::kFound;
    match.handler = best_handler;
    for (size_t i = 0; i < count; ++i) {
      if (best->segments[i].is_param) {
        match.params.emplace_back(best->segments[i].text, std::string(segments[i]));
      }
    }
    return match;
  }
  if (!any_path_match) return match;

  std::vector<std::string_view> allowed;
  for (const Pattern& p : patterns_) {
    if (!path_matches(p)) continue;
    for (const auto& entry : p.methods) allowed.push_back(entry.first);
  }
  std::sort(allowed.begin(), allowed.end());
  allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
  match.result = Match::Result::kMethodNotAllowed;
  for (std::string_view m : allowed) {
    if (!match.allow.empty()) match.allow += ", ";
    match.allow += m;
  }
  return match;
}

size_t Router::size() const {
  size_t n = 0;
  for (const Pattern& p : patterns_) n += p.methods.size();
  return n;
}

}  // namespace heteroaccel::http

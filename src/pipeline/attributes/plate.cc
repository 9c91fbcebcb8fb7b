#include "pipeline/attributes/plate.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/status/status.h"

namespace heteroaccel::pipeline {
namespace {

char ConfusionClass(char c) {
  switch (c) {
    case 'O':
    case 'Q':
    case 'D':
      return '0';
    case 'I':
    case 'L':
      return '1';
    case 'Z':
      return '2';
    case 'S':
      return '5';
    case 'G':
      return '6';
    case 'B':
      return '8';
    default:
      return c;
  }
}

// Bounds the work a hostile OCR string can cost (EditDistance is quadratic).
constexpr size_t kMaxPlateChars = 64;

}  // namespace

std::string NormalisePlate(std::string_view text, bool map_confusions) {
  std::string out;
  for (const char raw : text) {
    if (out.size() >= kMaxPlateChars) break;
    char c = raw;
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) continue;
    out.push_back(map_confusions ? ConfusionClass(c) : c);
  }
  return out;
}

int EditDistance(std::string_view a, std::string_view b) {
  // One row of the DP table; row[j] = distance(a[0..i), b[0..j)).
  std::vector<int> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    int diagonal = row[0];
    row[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      const int substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
    }
  }
  return row[b.size()];
}

absl::StatusOr<std::unique_ptr<PlateReader>> PlateReader::Create(
    const PlateReaderOptions& options) {
  std::optional<std::regex> pattern;
  if (!options.pattern.empty()) {
    try {
      pattern.emplace(options.pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return absl::InvalidArgumentError("plate pattern \"" + options.pattern +
                                        "\" is not a valid regular expression: " + e.what());
    }
  }
  if (options.max_tracks == 0 || options.max_candidates == 0) {
    return absl::InvalidArgumentError("plate reader: max_tracks and max_candidates must be >= 1");
  }
  return std::unique_ptr<PlateReader>(new PlateReader(options, std::move(pattern)));
}

PlateReader::PlateReader(const PlateReaderOptions& options, std::optional<std::regex> pattern)
    : options_(options), pattern_(std::move(pattern)) {}

bool PlateReader::Add(uint64_t track_id, std::string_view raw_text, float confidence) {
  std::string text = NormalisePlate(raw_text);
  if (text.empty()) return false;
  if (pattern_ && !std::regex_match(text, *pattern_)) return false;
  if (!(confidence > 0)) return false;  // also rejects NaN
  confidence = std::min(confidence, 1.0f);

  auto it = tracks_.find(track_id);
  if (it == tracks_.end()) {
    if (tracks_.size() >= options_.max_tracks) {
      auto oldest = std::min_element(
          tracks_.begin(), tracks_.end(),
          [](const auto& x, const auto& y) { return x.second.last_added < y.second.last_added; });
      tracks_.erase(oldest);
    }
    it = tracks_.emplace(track_id, TrackReadings{}).first;
  }
  TrackReadings& readings = it->second;
  readings.last_added = ++counter_;
  // Longer readings weigh more: a truncated read ("AB123C") is likelier wrong.
  const double vote = static_cast<double>(confidence) * static_cast<double>(text.size());
  for (PlateReading& c : readings.candidates) {
    if (c.text == text) {
      c.weight += vote;
      ++c.votes;
      c.best_confidence = std::max(c.best_confidence, confidence);
      return true;
    }
  }
  if (readings.candidates.size() >= options_.max_candidates) {
    auto weakest = std::min_element(
        readings.candidates.begin(), readings.candidates.end(),
        [](const PlateReading& x, const PlateReading& y) { return x.weight < y.weight; });
    if (weakest->weight >= vote) return true;  // counted as seen, too weak to keep
    readings.candidates.erase(weakest);
  }
  readings.candidates.push_back(PlateReading{
      .text = std::move(text), .weight = vote, .votes = 1, .best_confidence = confidence});
  return true;
}

std::optional<PlateReading> PlateReader::Best(uint64_t track_id) const {
  auto it = tracks_.find(track_id);
  if (it == tracks_.end() || it->second.candidates.empty()) return std::nullopt;
  const auto& c = it->second.candidates;
  return *std::max_element(c.begin(), c.end(), [](const PlateReading& x, const PlateReading& y) {
    if (x.weight != y.weight) return x.weight < y.weight;
    if (x.votes != y.votes) return x.votes < y.votes;
    return x.text > y.text;  // the alphabetically first text wins a full tie
  });
}

void PlateReader::Forget(uint64_t track_id) { tracks_.erase(track_id); }

std::optional<PlateMatch> MatchKnown(std::string_view reading, std::span<const std::string> known,
                                     int max_distance, bool map_confusions) {
  const std::string r = NormalisePlate(reading, map_confusions);
  if (r.empty() || max_distance < 0) return std::nullopt;
  std::optional<PlateMatch> best;
  for (const std::string& entry : known) {
    const std::string k = NormalisePlate(entry, map_confusions);
    if (k.empty()) continue;
    const int d = EditDistance(r, k);
    if (d <= max_distance && (!best || d < best->distance)) best = PlateMatch{entry, d};
  }
  return best;
}

}  // namespace heteroaccel::pipeline

// Licence-plate readings: normalising what OCR returns, choosing the best
// reading of a tracked vehicle over many frames, and matching it against a list
// of known plates.
//
// OCR on a plate crop is noisy frame to frame ("AB 123-CD", "A8123CD", "AB123C").
// PlateReader collects one track's readings and votes: readings are grouped by
// their normalised text, each vote weighs confidence x length (longer readings
// lose fewer characters), and only readings matching the plate format take part.
// MatchKnown then finds the closest known plate within an edit distance.
//
// Functions are pure and thread-safe. PlateReader is thread-compatible (one per
// pipeline, called from its thread); it holds at most `max_tracks` tracks and
// `max_candidates` distinct readings per track, dropping the oldest/weakest.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace heteroaccel::pipeline {

// Upper-case ASCII letters and digits only: spaces, dashes, dots and anything
// else dropped ("ab 123-cd" -> "AB123CD"). With `map_confusions`, every
// character is replaced by the representative of its OCR confusion class
// (O/Q/D -> 0, I/L -> 1, Z -> 2, S -> 5, G -> 6, B -> 8), so two readings that
// differ only in confusable characters normalise equal; use it to compare, not
// to display.
std::string NormalisePlate(std::string_view text, bool map_confusions = false);

// Levenshtein distance (insert, delete, substitute: cost 1 each).
int EditDistance(std::string_view a, std::string_view b);

struct PlateReading {
  std::string text;   // normalised (no confusion mapping)
  double weight = 0;  // sum of the votes for this text
  int votes = 0;      // readings that normalised to this text
  float best_confidence = 0;
};

struct PlateReaderOptions {
  // ECMAScript regex a normalised reading must match entirely to vote; "" = any
  // non-empty reading.
  std::string pattern = "^[A-Z0-9]{5,8}$";
  size_t max_tracks = 1024;
  size_t max_candidates = 16;  // distinct texts kept per track
};

class PlateReader {
 public:
  // InvalidArgument when the pattern is not a valid regex.
  static absl::StatusOr<std::unique_ptr<PlateReader>> Create(const PlateReaderOptions& options);

  // Adds one OCR reading of a track's plate (raw text, confidence in [0,1]).
  // Returns false when the reading does not match the format and was ignored.
  bool Add(uint64_t track_id, std::string_view raw_text, float confidence);

  // The best reading so far: most weight, then most votes, then the text.
  std::optional<PlateReading> Best(uint64_t track_id) const;

  // Drops a track (when the tracker ends it).
  void Forget(uint64_t track_id);
  size_t tracks() const { return tracks_.size(); }

 private:
  struct TrackReadings {
    std::vector<PlateReading> candidates;
    uint64_t last_added = 0;  // insertion counter, for evicting the oldest track
  };
  PlateReader(const PlateReaderOptions& options, std::optional<std::regex> pattern);

  PlateReaderOptions options_;
  std::optional<std::regex> pattern_;
  std::map<uint64_t, TrackReadings> tracks_;
  uint64_t counter_ = 0;
};

struct PlateMatch {
  std::string entry;  // the known list's entry, as given
  int distance = 0;   // edit distance between the normalised texts
};

// The known entry closest to `reading` (both normalised; with
// `map_confusions`, confusable characters count as equal) within
// `max_distance`; ties go to the earlier entry. nullopt when none is that close
// or the reading is empty.
std::optional<PlateMatch> MatchKnown(std::string_view reading, std::span<const std::string> known,
                                     int max_distance, bool map_confusions = false);

}  // namespace heteroaccel::pipeline

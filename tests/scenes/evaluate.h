// Scores a camera's events against a scene's expected events.
//
// Matching, per rule block id: an expected event and a produced one match when
// they have the same type, zone/line and direction, their start times differ by
// at most the expected event's tolerance, and (when the expected event names an
// actor and both the ground truth and the produced event's snapshot frame and
// box are known) the produced box overlaps that actor's ground-truth box in the
// snapshot frame (IoU >= kActorIoU). Pairs are taken greedily by start-time
// error, one-to-one. Precision = matched / produced, recall = matched /
// expected (1 when the denominator is 0); start error = mean and max |Δstart|
// of the matches. Line counts: produced line_crossing events per line and
// direction.
// Produced events are the distinct event ids (the latest copy of each); pass
// pipeline::Event values or the JSON of GET /v1/events (EventsFromJson).
// Pure functions; thread-compatible.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/types.h"
#include "scenes/scene.h"

namespace heteroaccel::scenes {

inline constexpr float kActorIoU = 0.3F;

struct ExpectedEvent {
  std::string rule;  // the rule block's id
  std::string type;
  int actor = 0;          // 0 = none (crowding) or not checked
  std::string zone;       // zone or line name
  std::string direction;  // line crossing
  double start = 0;       // camera time
  double tolerance = 1.0;
};

struct RuleScore {
  std::string rule;
  int expected = 0;
  int produced = 0;
  int matched = 0;
  double precision = 1;
  double recall = 1;
  double mean_start_error = 0;
  double max_start_error = 0;
  std::vector<std::string> unmatched;  // readable lines, for failure messages
};

struct Evaluation {
  std::map<std::string, RuleScore> rules;  // by rule id (every rule seen in either list)
  std::map<std::pair<std::string, std::string>, int> line_counts;  // (line, direction)
  std::string Summary() const;
};

// Latest copy of each event id, in first-seen order.
std::vector<pipeline::Event> Distinct(const std::vector<pipeline::Event>& events);

// Events from GET /v1/events' body ({"events": [...]}) or a plain array; fields
// read: id, rule, type, track_id, zone, direction, start_time, end_time, box,
// snapshot_frame. Entries that are not objects are skipped.
std::vector<pipeline::Event> EventsFromJson(const nlohmann::json& body);

// `truth` may be empty (no actor checks).
Evaluation Evaluate(const std::vector<ExpectedEvent>& expected,
                    const std::vector<pipeline::Event>& produced,
                    const std::vector<GtFrame>& truth);

}  // namespace heteroaccel::scenes

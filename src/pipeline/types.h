// Value types shared by the camera pipeline's blocks: what a detector found in a
// frame, a tracked object, and the events rules raise.
//
// Coordinates are pixels of the camera's frame (x right, y down). Times are
// seconds on the camera's own time line: media time for files (frame index /
// fps), capture time for live sources (seconds since the camera started), so
// that rules see real durations across dropped or skipped frames.
// Plain values; thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace heteroaccel::pipeline {

struct Point {
  float x = 0;
  float y = 0;
  friend bool operator==(const Point&, const Point&) = default;
};

struct Rect {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  float Width() const { return x2 > x1 ? x2 - x1 : 0; }
  float Height() const { return y2 > y1 ? y2 - y1 : 0; }
  float Area() const { return Width() * Height(); }
  Point Center() const { return {(x1 + x2) / 2, (y1 + y2) / 2}; }
  // The anchor zone rules test by default: where an object touches the ground.
  Point BottomCenter() const { return {(x1 + x2) / 2, y2}; }
  friend bool operator==(const Rect&, const Rect&) = default;
};

// Intersection over union; 0 when either is empty.
inline float IoU(const Rect& a, const Rect& b) {
  const Rect i{a.x1 > b.x1 ? a.x1 : b.x1, a.y1 > b.y1 ? a.y1 : b.y1, a.x2 < b.x2 ? a.x2 : b.x2,
               a.y2 < b.y2 ? a.y2 : b.y2};
  const float inter = i.Area();
  const float uni = a.Area() + b.Area() - inter;
  return uni > 0 ? inter / uni : 0;
}

struct Keypoint {
  std::string name;
  Point p;
  float score = 1;
};

// One object a detector (or a second stage) found in one frame.
struct Detection {
  Rect box;
  float score = 0;
  std::string label;  // the detector's class, lower case ("person", "car", "face", ...)
  std::vector<Keypoint> keypoints;  // pose landmarks, from a second stage on the crop
  std::string text;                 // text read on the crop (licence plate), if any
  std::string colour;               // dominant colour name, if computed
};

// Where one inference of a frame ran: the scheduler's answer, kept for events.
struct Provenance {
  std::string node;
  std::string device;
  std::string variant;
  double queue_ms = 0;
  double compute_ms = 0;
};

// One frame's results, in capture order, as the tracker and rules see them.
struct FrameResult {
  uint64_t frame_index = 0;  // per camera, increasing
  double time = 0;           // seconds on the camera's time line (see above)
  int width = 0;
  int height = 0;
  std::vector<Detection> detections;
  Provenance provenance;
};

// A tracked object after the tracker saw a frame.
struct Track {
  uint64_t id = 0;  // unique per camera, never reused
  std::string label;
  Rect box;          // the latest (or, while lost, predicted) box
  float score = 0;
  bool confirmed = false;  // seen in at least the tracker's min_hits frames
  bool lost = false;       // not matched in this frame; kept until max_lost frames
  double first_seen = 0;   // camera time of the first detection
  double last_seen = 0;    // camera time of the last matched detection
  int hits = 0;
  std::optional<size_t> detection;  // index into FrameResult::detections when matched
};

enum class EventPhase { kNew, kUpdate, kEnd };

// What a rule raises. One event id lives from kNew through updates to kEnd.
struct Event {
  std::string id;         // unique: camera, rule and a sequence number
  EventPhase phase = EventPhase::kNew;
  std::string camera;
  std::string group;      // the camera's group ("" when none)
  std::string rule;       // the rule block's id in the pipeline
  std::string type;       // intrusion, loitering, line_crossing, crowding, abandoned,
                          // parking, fall, licence_plate
  std::string object;     // object class ("person", "car", ...)
  std::string colour;     // dominant colour of the object, if known
  uint64_t track_id = 0;  // 0 for events about a zone rather than one object (crowding)
  std::string zone;       // zone or line name
  std::string direction;  // line crossing: "forward" / "backward" (see rules)
  std::string text;       // licence plate: best reading; matched list entry in `detail`
  int count = 0;          // crowding: objects in the zone
  double start = 0;       // camera time
  std::optional<double> end;
  Rect box;               // the object's box in the best snapshot frame
  uint64_t snapshot_frame = 0;  // frame whose picture is the best snapshot
  float snapshot_score = 0;
  Provenance provenance;
  std::string detail;     // JSON object text with rule-specific fields, "{}" when none
};

}  // namespace heteroaccel::pipeline

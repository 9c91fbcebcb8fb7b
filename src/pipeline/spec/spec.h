// A camera and its pipeline: the typed form of the document cameras are declared
// with (the server's --cameras YAML and /v1/cameras' JSON; the schema is in
// docs and in spec.cc's ParseCameraSpec), validated once, here.
//
// The pipeline is a DAG of blocks rooted at the implicit block `source`:
//   detect -> filter* -> track -> {crop_infer, colour, rules} ; rules -> sink
// Parsing checks every key (unknown keys are refused), every range, every
// reference (inputs, zones, lines) and every edge's kind (a rule fed by a track,
// fall by a crop_infer of type pose, ...), and refuses cycles. Errors are
// absl::InvalidArgument naming the camera, the block and the key, e.g.
//   camera "gate-1": block "trk": key "min_hits": must be >= 1
// The YAML file and the JSON API go through the same validator: YAML is turned
// into JSON first (ParseCamerasYaml), with its own size, depth and node limits.
//
// The camera's `source` stays JSON here: the video component validates it; this
// file only checks that it is an object whose "type" is file, rtsp, mjpeg or push.
// Plain values and pure functions; thread-compatible.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pipeline/types.h"

namespace heteroaccel::pipeline {

inline constexpr size_t kMaxBlocks = 64;
inline constexpr size_t kMaxZones = 32;  // and at most as many lines
inline constexpr size_t kMaxPolygonPoints = 64;
inline constexpr size_t kMaxCamerasYamlBytes = 4 << 20;
// Coordinates beyond this are refused: no frame is that large, and it keeps the
// geometry's products far from float overflow.
inline constexpr float kMaxCoordinate = 100000;

// The inference types a detect or crop_infer block may ask for.
inline constexpr std::string_view kInferenceTypes[] = {"object", "face",    "pose",
                                                       "hand",   "gesture", "text"};

struct Zone {
  std::string name;
  std::vector<Point> polygon;
  friend bool operator==(const Zone&, const Zone&) = default;
};

// A directed segment; see rules/rules.h for which side is "forward".
struct Line {
  std::string name;
  Point from;
  Point to;
  friend bool operator==(const Line&, const Line&) = default;
};

enum class BlockType {
  kDetect,
  kFilter,
  kTrack,
  kCropInfer,
  kColour,
  kZoneIntrusion,
  kLoitering,
  kLineCrossing,
  kCrowding,
  kAbandonedObject,
  kParking,
  kFall,
  kLicencePlate,
  kSink,
};

// The schema's name ("detect", "zone_intrusion", ...).
std::string_view BlockTypeName(BlockType type);
std::optional<BlockType> BlockTypeFromName(std::string_view name);
// True for the blocks that raise events (zone_intrusion .. licence_plate).
bool IsRule(BlockType type);

// Parameters, one struct per block type. Defaults are the schema's; an empty
// `classes` list means every class.
struct DetectParams {
  std::string type;  // one of kInferenceTypes
  std::string variant;
  std::optional<double> deadline_ms;  // > 0
  int every = 1;                      // run on every n-th taken frame
  friend bool operator==(const DetectParams&, const DetectParams&) = default;
};
struct FilterParams {
  std::vector<std::string> classes;
  float min_score = 0;
  std::optional<double> min_area;  // px²
  std::optional<double> max_area;
  std::vector<std::string> mask;  // zone names whose detections are dropped
  friend bool operator==(const FilterParams&, const FilterParams&) = default;
};
struct TrackParams {
  int min_hits = 3;
  int max_lost = 30;  // frames
  float iou = 0.3F;
  friend bool operator==(const TrackParams&, const TrackParams&) = default;
};
struct CropInferParams {
  std::vector<std::string> classes;
  std::string type;  // one of kInferenceTypes
  friend bool operator==(const CropInferParams&, const CropInferParams&) = default;
};
struct ColourParams {
  std::vector<std::string> classes;
  friend bool operator==(const ColourParams&, const ColourParams&) = default;
};
struct ZoneIntrusionParams {
  std::string zone;
  std::vector<std::string> classes;
  int inertia = 3;  // frames
  friend bool operator==(const ZoneIntrusionParams&, const ZoneIntrusionParams&) = default;
};
struct LoiteringParams {
  std::string zone;
  std::vector<std::string> classes;
  double seconds = 0;  // required
  friend bool operator==(const LoiteringParams&, const LoiteringParams&) = default;
};
struct LineCrossingParams {
  std::string line;
  std::vector<std::string> classes;
  float hysteresis_px = 8;
  friend bool operator==(const LineCrossingParams&, const LineCrossingParams&) = default;
};
struct CrowdingParams {
  std::string zone;
  std::vector<std::string> classes;
  int count = 0;       // required
  double seconds = 0;  // required
  friend bool operator==(const CrowdingParams&, const CrowdingParams&) = default;
};
struct AbandonedObjectParams {
  std::vector<std::string> classes;
  double seconds = 0;  // required
  float person_distance_px = 150;
  float still_px = 10;
  friend bool operator==(const AbandonedObjectParams&, const AbandonedObjectParams&) = default;
};
struct ParkingParams {
  std::string zone;
  std::vector<std::string> classes;
  double seconds = 0;  // required
  float still_px = 10;
  friend bool operator==(const ParkingParams&, const ParkingParams&) = default;
};
struct FallParams {
  friend bool operator==(const FallParams&, const FallParams&) = default;
};
struct LicencePlateParams {
  std::string pattern;  // ECMAScript regex a reading must match in full; "" = any
  std::vector<std::string> known;
  int max_distance = 1;  // edit distance to a known entry
  friend bool operator==(const LicencePlateParams&, const LicencePlateParams&) = default;
};
struct SinkParams {
  bool mqtt = false;
  std::string webhook;  // http(s) URL, "" = none
  friend bool operator==(const SinkParams&, const SinkParams&) = default;
};

// In BlockType's order, so params.index() == static_cast<size_t>(type).
using BlockParams =
    std::variant<DetectParams, FilterParams, TrackParams, CropInferParams, ColourParams,
                 ZoneIntrusionParams, LoiteringParams, LineCrossingParams, CrowdingParams,
                 AbandonedObjectParams, ParkingParams, FallParams, LicencePlateParams, SinkParams>;

struct BlockSpec {
  std::string id;
  BlockType type = BlockType::kDetect;
  std::vector<std::string> inputs;  // one, except for sinks; "source" for detect
  BlockParams params;
  friend bool operator==(const BlockSpec&, const BlockSpec&) = default;
};

struct CameraSpec {
  std::string id;
  std::string group;       // the camera's own group (events, the dashboard)
  std::string node_group;  // its inference runs only on nodes of this group ("" = any)
  bool enabled = true;
  nlohmann::json source;  // {"type": "file"|"rtsp"|"mjpeg"|"push", ...}
  std::vector<Zone> zones;
  std::vector<Line> lines;
  std::vector<BlockSpec> blocks;  // in the document's order

  const BlockSpec* FindBlock(std::string_view id) const;
  const Zone* FindZone(std::string_view name) const;
  const Line* FindLine(std::string_view name) const;
  friend bool operator==(const CameraSpec&, const CameraSpec&) = default;
};

// One camera as JSON (an element of the YAML's `cameras` list, or /v1/cameras'
// body). Never throws.
[[nodiscard]] absl::StatusOr<CameraSpec> ParseCameraSpec(const nlohmann::json& camera);

// A cameras file: `cameras: [...]` (an empty or absent list is fine). Camera ids
// must be unique. Never throws.
[[nodiscard]] absl::StatusOr<std::vector<CameraSpec>> ParseCamerasYaml(std::string_view yaml_text);

// YAML -> JSON as the cameras file is read: plain scalars become null, booleans
// (true/false), integers or floats when they read as such, quoted scalars stay
// strings. Bounded: kMaxCamerasYamlBytes, nesting and node count (aliases
// expanded). Never throws.
[[nodiscard]] absl::StatusOr<nlohmann::json> YamlToJson(std::string_view yaml_text);

// The canonical JSON of a camera, every parameter spelled out;
// ParseCameraSpec(ToJson(spec)) == spec for every parsed spec.
nlohmann::json ToJson(const CameraSpec& spec);

// Block indices (into spec.blocks) such that every block comes after its
// inputs, keeping the document's order where it already is one. A cycle is an
// InvalidArgument naming its path (a -> b -> a).
[[nodiscard]] absl::StatusOr<std::vector<size_t>> TopologicalOrder(const CameraSpec& spec);

// Replaces the camera's zones and lines (the dashboard edits them by dragging),
// validating the geometry and that every block's zone, line and mask names still
// exist. On error `spec` is unchanged.
[[nodiscard]] absl::Status SetGeometry(CameraSpec& spec, std::vector<Zone> zones,
                                       std::vector<Line> lines);
// The same from JSON {"zones": [...], "lines": [...]} (the document's syntax; an
// absent key means none).
[[nodiscard]] absl::Status SetGeometry(CameraSpec& spec, const nlohmann::json& geometry);

// Geometry helpers shared with the rules.
bool PointInPolygon(const std::vector<Point>& polygon, Point p);

}  // namespace heteroaccel::pipeline

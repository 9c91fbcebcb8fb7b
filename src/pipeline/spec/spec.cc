#include "pipeline/spec/spec.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <regex>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "pipeline/spec/internal/parse.h"
#include "pipeline/spec/internal/reader.h"
#include "pipeline/spec/internal/strings.h"

namespace heteroaccel::pipeline {
namespace {

using internal::Cat;
using internal::Join;
using internal::ObjectReader;
using internal::Quoted;
using json = nlohmann::json;

constexpr std::array<std::string_view, 14> kBlockNames = {
    "detect",         "filter",    "track",         "crop_infer", "colour",
    "zone_intrusion", "loitering", "line_crossing", "crowding",   "abandoned_object",
    "parking",        "fall",      "licence_plate", "sink"};
constexpr std::string_view kSourceTypes[] = {"file", "rtsp", "mjpeg", "push"};
constexpr size_t kMaxClasses = 128;
constexpr size_t kMaxKnownPlates = 10000;
constexpr size_t kMaxPatternBytes = 256;
constexpr int kMaxRepeat = 64;
constexpr double kMaxSeconds = 86400;
constexpr double kMaxPixels = 100000;

std::string CameraPrefix(const std::string& label) { return label + ": "; }

std::string CameraLabel(const std::string& id) { return Cat("camera ", Quoted(id)); }

bool IsInferenceType(std::string_view t) {
  return std::find(std::begin(kInferenceTypes), std::end(kInferenceTypes), t) !=
         std::end(kInferenceTypes);
}

absl::Status InferenceType(const ObjectReader& r, std::string& out) {
  RETURN_IF_ERROR(r.String("type", out, true, 64));
  if (!IsInferenceType(out)) {
    return r.KeyError("type", Cat("unknown inference type ", Quoted(out),
                                  " (known: ", Join(kInferenceTypes, ", "), ")"));
  }
  return absl::OkStatus();
}

// The geometry a block may refer to.
struct Geometry {
  const std::vector<Zone>& zones;
  const std::vector<Line>& lines;
};

absl::Status ZoneRef(const ObjectReader& r, const Geometry& g, std::string& out) {
  RETURN_IF_ERROR(r.String("zone", out, true, 64));
  for (const Zone& z : g.zones) {
    if (z.name == out) return absl::OkStatus();
  }
  return r.KeyError("zone", Cat("no zone named ", Quoted(out), " on this camera"));
}

absl::Status LineRef(const ObjectReader& r, const Geometry& g, std::string& out) {
  RETURN_IF_ERROR(r.String("line", out, true, 64));
  for (const Line& l : g.lines) {
    if (l.name == out) return absl::OkStatus();
  }
  return r.KeyError("line", Cat("no line named ", Quoted(out), " on this camera"));
}

// Repetition counts ({n}, {n,m}) above kMaxRepeat make std::regex build huge
// automata; no plate format needs them.
bool HasLargeRepeat(std::string_view pattern) {
  int current = -1;
  bool in_brace = false;
  for (const char c : pattern) {
    if (c == '{') {
      in_brace = true;
      current = 0;
    } else if (in_brace && c >= '0' && c <= '9') {
      current = std::min(current * 10 + (c - '0'), 100000);
      if (current > kMaxRepeat) return true;
    } else if (in_brace && c == ',') {
      current = 0;
    } else {
      in_brace = false;
    }
  }
  return false;
}

absl::Status PlatePattern(const ObjectReader& r, std::string& out) {
  RETURN_IF_ERROR(r.String("pattern", out, false, kMaxPatternBytes));
  if (out.empty()) return absl::OkStatus();
  if (HasLargeRepeat(out)) {
    return r.KeyError("pattern", Cat("repetition counts above ", kMaxRepeat, " are not supported"));
  }
  try {
    const std::regex re(out, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return r.KeyError("pattern", Cat("is not a valid regular expression: ", e.what()));
  }
  return absl::OkStatus();
}

absl::Status Webhook(const ObjectReader& r, std::string& out) {
  RETURN_IF_ERROR(r.String("webhook", out, false, 2048));
  if (out.empty()) return absl::OkStatus();
  const bool scheme = out.starts_with("http://") || out.starts_with("https://");
  const size_t host_at = out.find("://") + 3;
  const bool printable = std::all_of(out.begin(), out.end(), [](char c) {
    return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
  });
  if (!scheme || host_at >= out.size() || out[host_at] == '/' || !printable) {
    return r.KeyError("webhook", "must be an http:// or https:// URL with a host");
  }
  return absl::OkStatus();
}

using Keys = std::vector<std::string_view>;

// The keys each block type takes besides id, block and input.
Keys ParamKeys(BlockType type) {
  switch (type) {
    case BlockType::kDetect:
      return {"type", "variant", "deadline_ms", "every"};
    case BlockType::kFilter:
      return {"classes", "min_score", "min_area", "max_area", "mask"};
    case BlockType::kTrack:
      return {"min_hits", "max_lost", "iou"};
    case BlockType::kCropInfer:
      return {"classes", "type"};
    case BlockType::kColour:
      return {"classes"};
    case BlockType::kZoneIntrusion:
      return {"zone", "classes", "inertia"};
    case BlockType::kLoitering:
      return {"zone", "classes", "seconds"};
    case BlockType::kLineCrossing:
      return {"line", "classes", "hysteresis_px"};
    case BlockType::kCrowding:
      return {"zone", "classes", "count", "seconds"};
    case BlockType::kAbandonedObject:
      return {"classes", "seconds", "person_distance_px", "still_px"};
    case BlockType::kParking:
      return {"zone", "classes", "seconds", "still_px"};
    case BlockType::kFall:
      return {};
    case BlockType::kLicencePlate:
      return {"pattern", "known", "max_distance"};
    case BlockType::kSink:
      return {"mqtt", "webhook"};
  }
  return {};
}

// Object classes, compared with the detectors' labels in lower case (types.h):
// `Person` and `person` name the same class.
absl::Status Classes(const ObjectReader& r, std::vector<std::string>& classes) {
  RETURN_IF_ERROR(r.StringList("classes", classes, kMaxClasses));
  for (std::string& c : classes) absl::AsciiStrToLower(&c);
  return absl::OkStatus();
}

absl::StatusOr<BlockParams> ParseParams(BlockType type, const ObjectReader& r, const Geometry& g) {
  switch (type) {
    case BlockType::kDetect: {
      DetectParams p;
      RETURN_IF_ERROR(InferenceType(r, p.type));
      RETURN_IF_ERROR(r.String("variant", p.variant, false, 128));
      RETURN_IF_ERROR(r.OptionalNumber("deadline_ms", p.deadline_ms, 0, 3600000, true));
      RETURN_IF_ERROR(r.Int("every", p.every, false, 1, 10000));
      return p;
    }
    case BlockType::kFilter: {
      FilterParams p;
      RETURN_IF_ERROR(Classes(r, p.classes));
      RETURN_IF_ERROR(r.Float("min_score", p.min_score, false, 0, 1));
      RETURN_IF_ERROR(r.OptionalNumber("min_area", p.min_area, 0, 1e10));
      RETURN_IF_ERROR(r.OptionalNumber("max_area", p.max_area, 0, 1e10));
      if (p.min_area && p.max_area && *p.min_area > *p.max_area) {
        return r.KeyError("max_area", "must be >= min_area");
      }
      RETURN_IF_ERROR(r.StringList("mask", p.mask, kMaxZones));
      for (const std::string& name : p.mask) {
        if (std::none_of(g.zones.begin(), g.zones.end(),
                         [&name](const Zone& z) { return z.name == name; })) {
          return r.KeyError("mask", Cat("no zone named ", Quoted(name), " on this camera"));
        }
      }
      return p;
    }
    case BlockType::kTrack: {
      TrackParams p;
      RETURN_IF_ERROR(r.Int("min_hits", p.min_hits, false, 1, 1000));
      RETURN_IF_ERROR(r.Int("max_lost", p.max_lost, false, 0, 100000));
      RETURN_IF_ERROR(r.Float("iou", p.iou, false, 0, 1, true));
      return p;
    }
    case BlockType::kCropInfer: {
      CropInferParams p;
      RETURN_IF_ERROR(Classes(r, p.classes));
      RETURN_IF_ERROR(InferenceType(r, p.type));
      return p;
    }
    case BlockType::kColour: {
      ColourParams p;
      RETURN_IF_ERROR(Classes(r, p.classes));
      return p;
    }
    case BlockType::kZoneIntrusion: {
      ZoneIntrusionParams p;
      RETURN_IF_ERROR(ZoneRef(r, g, p.zone));
      RETURN_IF_ERROR(Classes(r, p.classes));
      RETURN_IF_ERROR(r.Int("inertia", p.inertia, false, 1, 1000));
      return p;
    }
    case BlockType::kLoitering: {
      LoiteringParams p;
      RETURN_IF_ERROR(ZoneRef(r, g, p.zone));
      RETURN_IF_ERROR(Classes(r, p.classes));
      RETURN_IF_ERROR(r.Number("seconds", p.seconds, true, 0, kMaxSeconds, true));
      return p;
    }
    case BlockType::kLineCrossing: {
      LineCrossingParams p;
      RETURN_IF_ERROR(LineRef(r, g, p.line));
      RETURN_IF_ERROR(Classes(r, p.classes));
      RETURN_IF_ERROR(r.Float("hysteresis_px", p.hysteresis_px, false, 0, 10000));
      return p;
    }
    case BlockType::kCrowding: {
      CrowdingParams p;
      RETURN_IF_ERROR(ZoneRef(r, g, p.zone));
      RETURN_IF_ERROR(Classes(r, p.classes));
      RETURN_IF_ERROR(r.Int("count", p.count, true, 1, 10000));
      RETURN_IF_ERROR(r.Number("seconds", p.seconds, true, 0, kMaxSeconds, true));
      return p;
    }
    case BlockType::kAbandonedObject: {
      AbandonedObjectParams p;
      RETURN_IF_ERROR(Classes(r, p.classes));
      RETURN_IF_ERROR(r.Number("seconds", p.seconds, true, 0, kMaxSeconds, true));
      RETURN_IF_ERROR(
          r.Float("person_distance_px", p.person_distance_px, false, 0, kMaxPixels, true));
      RETURN_IF_ERROR(r.Float("still_px", p.still_px, false, 0, kMaxPixels));
      return p;
    }
    case BlockType::kParking: {
      ParkingParams p;
      RETURN_IF_ERROR(ZoneRef(r, g, p.zone));
      RETURN_IF_ERROR(Classes(r, p.classes));
      RETURN_IF_ERROR(r.Number("seconds", p.seconds, true, 0, kMaxSeconds, true));
      RETURN_IF_ERROR(r.Float("still_px", p.still_px, false, 0, kMaxPixels));
      return p;
    }
    case BlockType::kFall:
      return FallParams{};
    case BlockType::kLicencePlate: {
      LicencePlateParams p;
      RETURN_IF_ERROR(PlatePattern(r, p.pattern));
      RETURN_IF_ERROR(r.StringList("known", p.known, kMaxKnownPlates));
      RETURN_IF_ERROR(r.Int("max_distance", p.max_distance, false, 0, 16));
      return p;
    }
    case BlockType::kSink: {
      SinkParams p;
      RETURN_IF_ERROR(r.Bool("mqtt", p.mqtt));
      RETURN_IF_ERROR(Webhook(r, p.webhook));
      return p;
    }
  }
  return r.Error("unknown block type");
}

absl::Status ParseInputs(const ObjectReader& r, BlockType type, std::vector<std::string>& out) {
  const json* v = r.Get("input");
  if (v == nullptr) return r.KeyError("input", "is required");
  if (type == BlockType::kSink && v->is_array()) {
    if (v->empty()) return r.KeyError("input", "must name at least one rule");
    std::vector<std::string> ids;
    RETURN_IF_ERROR(r.StringList("input", ids, kMaxBlocks));
    out = std::move(ids);
    return absl::OkStatus();
  }
  if (!v->is_string()) {
    return r.KeyError("input", type == BlockType::kSink
                                   ? "must be a block id or a list of block ids"
                                   : "must be one block id");
  }
  std::string id;
  RETURN_IF_ERROR(r.String("input", id, true, 64));
  out = {std::move(id)};
  return absl::OkStatus();
}

absl::StatusOr<BlockSpec> ParseBlock(const json& value, size_t index, const std::string& camera,
                                     const Geometry& g) {
  const std::string at = Cat(camera, ": pipeline[", index, "]: ");
  if (!value.is_object()) {
    return absl::InvalidArgumentError(Cat(at, "must be a mapping (id, block, input, ...)"));
  }
  BlockSpec block;
  RETURN_IF_ERROR(ObjectReader(value, at).Id("id", block.id, true));
  const ObjectReader r(value, Cat(camera, ": block ", Quoted(block.id), ": "));
  if (block.id == "source") {
    return r.KeyError("id", "\"source\" is the camera's frames, not a block id");
  }
  std::string name;
  RETURN_IF_ERROR(r.String("block", name, true, 64));
  const std::optional<BlockType> type = BlockTypeFromName(name);
  if (!type) {
    return r.Error(
        Cat("unknown block type ", Quoted(name), " (known: ", Join(kBlockNames, ", "), ")"));
  }
  block.type = *type;
  Keys allowed = {"id", "block", "input"};
  for (std::string_view k : ParamKeys(*type)) allowed.push_back(k);
  RETURN_IF_ERROR(r.CheckKeys(allowed));
  RETURN_IF_ERROR(ParseInputs(r, *type, block.inputs));
  ASSIGN_OR_RETURN(block.params, ParseParams(*type, r, g));
  return block;
}

double TwiceArea(const std::vector<Point>& polygon) {
  double sum = 0;
  for (size_t i = 0; i < polygon.size(); ++i) {
    const Point& a = polygon[i];
    const Point& b = polygon[(i + 1) % polygon.size()];
    sum += static_cast<double>(a.x) * b.y - static_cast<double>(b.x) * a.y;
  }
  return sum;
}

absl::Status CheckZone(const Zone& zone, const std::string& camera) {
  const std::string at = Cat(camera, ": zone ", Quoted(zone.name), ": key \"polygon\": ");
  auto err = [&at](std::string_view m) { return absl::InvalidArgumentError(Cat(at, m)); };
  if (zone.polygon.size() < 3) return err("needs at least 3 points");
  if (zone.polygon.size() > kMaxPolygonPoints) {
    return err(Cat("at most ", kMaxPolygonPoints, " points"));
  }
  for (const Point& p : zone.polygon) {
    if (!std::isfinite(p.x) || !std::isfinite(p.y)) return err("points must be finite numbers");
    if (std::abs(p.x) > kMaxCoordinate || std::abs(p.y) > kMaxCoordinate) {
      return err(Cat("coordinates must be within +-", kMaxCoordinate));
    }
  }
  if (TwiceArea(zone.polygon) == 0) return err("has zero area (points on one line)");
  return absl::OkStatus();
}

absl::Status CheckLine(const Line& line, const std::string& camera) {
  const std::string at = Cat(camera, ": line ", Quoted(line.name), ": ");
  for (const Point& p : {line.from, line.to}) {
    if (!std::isfinite(p.x) || !std::isfinite(p.y) || std::abs(p.x) > kMaxCoordinate ||
        std::abs(p.y) > kMaxCoordinate) {
      return absl::InvalidArgumentError(
          Cat(at, "key \"from\"/\"to\": coordinates must be finite and within +-", kMaxCoordinate));
    }
  }
  if (line.from == line.to) {
    return absl::InvalidArgumentError(Cat(at, "key \"to\": must differ from \"from\""));
  }
  return absl::OkStatus();
}

// Names valid, unique, at most kMaxZones of each, shapes valid.
absl::Status CheckGeometry(const std::vector<Zone>& zones, const std::vector<Line>& lines,
                           const std::string& camera) {
  auto err = [&camera](std::string_view m) {
    return absl::InvalidArgumentError(Cat(camera, ": ", m));
  };
  if (zones.size() > kMaxZones) {
    return err(Cat("key \"zones\": at most ", kMaxZones, " zones"));
  }
  if (lines.size() > kMaxZones) {
    return err(Cat("key \"lines\": at most ", kMaxZones, " lines"));
  }
  for (size_t i = 0; i < zones.size(); ++i) {
    if (!internal::IsValidId(zones[i].name)) {
      return err(
          Cat("zones[", i, "]: key \"name\": must be 1 to 64 characters of A-Z a-z 0-9 _ . -"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (zones[j].name == zones[i].name) {
        return err(Cat("zone ", Quoted(zones[i].name), ": duplicate zone name"));
      }
    }
    RETURN_IF_ERROR(CheckZone(zones[i], camera));
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!internal::IsValidId(lines[i].name)) {
      return err(
          Cat("lines[", i, "]: key \"name\": must be 1 to 64 characters of A-Z a-z 0-9 _ . -"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (lines[j].name == lines[i].name) {
        return err(Cat("line ", Quoted(lines[i].name), ": duplicate line name"));
      }
    }
    RETURN_IF_ERROR(CheckLine(lines[i], camera));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Zone>> ParseZones(const json* v, const std::string& camera) {
  std::vector<Zone> zones;
  if (v == nullptr) return zones;
  auto err = [&camera](std::string_view m) {
    return absl::InvalidArgumentError(Cat(camera, ": ", m));
  };
  if (!v->is_array()) return err("key \"zones\": must be a list of {name, polygon}");
  if (v->size() > kMaxZones) return err(Cat("key \"zones\": at most ", kMaxZones, " zones"));
  for (size_t i = 0; i < v->size(); ++i) {
    const json& item = (*v)[i];
    const std::string at = Cat(camera, ": zones[", i, "]: ");
    if (!item.is_object()) return err(Cat("zones[", i, "]: must be {name, polygon}"));
    Zone zone;
    RETURN_IF_ERROR(ObjectReader(item, at).Id("name", zone.name, true));
    const ObjectReader r(item, Cat(camera, ": zone ", Quoted(zone.name), ": "));
    RETURN_IF_ERROR(r.CheckKeys({"name", "polygon"}));
    const json* polygon = r.Get("polygon");
    if (polygon == nullptr) return r.KeyError("polygon", "is required");
    if (!polygon->is_array()) return r.KeyError("polygon", "must be a list of [x, y] points");
    if (polygon->size() > kMaxPolygonPoints) {
      return r.KeyError("polygon", Cat("at most ", kMaxPolygonPoints, " points"));
    }
    for (size_t k = 0; k < polygon->size(); ++k) {
      Point p;
      if (auto why = internal::ReadPoint((*polygon)[k], p.x, p.y)) {
        return r.KeyError("polygon", Cat("point ", k, ": ", *why));
      }
      zone.polygon.push_back(p);
    }
    zones.push_back(std::move(zone));
  }
  return zones;
}

absl::StatusOr<std::vector<Line>> ParseLines(const json* v, const std::string& camera) {
  std::vector<Line> lines;
  if (v == nullptr) return lines;
  auto err = [&camera](std::string_view m) {
    return absl::InvalidArgumentError(Cat(camera, ": ", m));
  };
  if (!v->is_array()) return err("key \"lines\": must be a list of {name, from, to}");
  if (v->size() > kMaxZones) return err(Cat("key \"lines\": at most ", kMaxZones, " lines"));
  for (size_t i = 0; i < v->size(); ++i) {
    const json& item = (*v)[i];
    const std::string at = Cat(camera, ": lines[", i, "]: ");
    if (!item.is_object()) return err(Cat("lines[", i, "]: must be {name, from, to}"));
    Line line;
    RETURN_IF_ERROR(ObjectReader(item, at).Id("name", line.name, true));
    const ObjectReader r(item, Cat(camera, ": line ", Quoted(line.name), ": "));
    RETURN_IF_ERROR(r.CheckKeys({"name", "from", "to"}));
    for (const auto& [key, point] : {std::pair<std::string_view, Point*>{"from", &line.from},
                                     std::pair<std::string_view, Point*>{"to", &line.to}}) {
      const json* p = r.Get(key);
      if (p == nullptr) return r.KeyError(key, "is required");
      if (auto why = internal::ReadPoint(*p, point->x, point->y)) return r.KeyError(key, *why);
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

absl::Status CheckSource(const ObjectReader& r) {
  const json* source = r.Get("source");
  if (source == nullptr) return r.KeyError("source", "is required");
  if (!source->is_object()) return r.KeyError("source", "must be a mapping with a \"type\"");
  const auto type = source->find("type");
  const std::string kinds = Join(kSourceTypes, ", ");
  if (type == source->end() || !type->is_string()) {
    return r.KeyError("source", Cat("needs \"type\": one of ", kinds));
  }
  const auto& t = type->get_ref<const std::string&>();
  if (std::find(std::begin(kSourceTypes), std::end(kSourceTypes), t) == std::end(kSourceTypes)) {
    return r.KeyError("source.type", Cat("unknown source type ", Quoted(t.substr(0, 64)),
                                         " (known: ", kinds, ")"));
  }
  return absl::OkStatus();
}

absl::Status ParseBlocks(const ObjectReader& r, const std::string& camera, CameraSpec& spec) {
  const json* pipeline = r.Get("pipeline");
  const std::string needs_detect = "needs a detect block (input: source)";
  if (pipeline == nullptr) return r.KeyError("pipeline", needs_detect);
  if (!pipeline->is_array()) return r.KeyError("pipeline", "must be a list of blocks");
  if (pipeline->size() > kMaxBlocks) {
    return r.KeyError("pipeline", Cat("at most ", kMaxBlocks, " blocks"));
  }
  const Geometry g{spec.zones, spec.lines};
  for (size_t i = 0; i < pipeline->size(); ++i) {
    ASSIGN_OR_RETURN(BlockSpec block, ParseBlock((*pipeline)[i], i, camera, g));
    if (spec.FindBlock(block.id) != nullptr) {
      return absl::InvalidArgumentError(
          Cat(camera, ": block ", Quoted(block.id), ": duplicate block id"));
    }
    spec.blocks.push_back(std::move(block));
  }
  RETURN_IF_ERROR(internal::CheckEdges(spec, camera));
  RETURN_IF_ERROR(TopologicalOrder(spec).status());
  if (std::none_of(spec.blocks.begin(), spec.blocks.end(),
                   [](const BlockSpec& b) { return b.type == BlockType::kDetect; })) {
    return r.KeyError("pipeline", needs_detect);
  }
  return absl::OkStatus();
}

// A float as the shortest decimal that reads back as the same float (0.4F is
// written 0.4, not 0.4000000059604645).
json FloatJson(float v) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  if (ec != std::errc()) return static_cast<double>(v);
  return std::strtod(std::string(buf, end).c_str(), nullptr);
}

json PointJson(const Point& p) { return json::array({FloatJson(p.x), FloatJson(p.y)}); }

json ParamsJson(const BlockParams& params) {
  json j = json::object();
  std::visit(
      [&j](const auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, DetectParams>) {
          j["type"] = p.type;
          j["variant"] = p.variant;
          if (p.deadline_ms) j["deadline_ms"] = *p.deadline_ms;
          j["every"] = p.every;
        } else if constexpr (std::is_same_v<T, FilterParams>) {
          j["classes"] = p.classes;
          j["min_score"] = FloatJson(p.min_score);
          if (p.min_area) j["min_area"] = *p.min_area;
          if (p.max_area) j["max_area"] = *p.max_area;
          j["mask"] = p.mask;
        } else if constexpr (std::is_same_v<T, TrackParams>) {
          j["min_hits"] = p.min_hits;
          j["max_lost"] = p.max_lost;
          j["iou"] = FloatJson(p.iou);
        } else if constexpr (std::is_same_v<T, CropInferParams>) {
          j["classes"] = p.classes;
          j["type"] = p.type;
        } else if constexpr (std::is_same_v<T, ColourParams>) {
          j["classes"] = p.classes;
        } else if constexpr (std::is_same_v<T, ZoneIntrusionParams>) {
          j["zone"] = p.zone;
          j["classes"] = p.classes;
          j["inertia"] = p.inertia;
        } else if constexpr (std::is_same_v<T, LoiteringParams>) {
          j["zone"] = p.zone;
          j["classes"] = p.classes;
          j["seconds"] = p.seconds;
        } else if constexpr (std::is_same_v<T, LineCrossingParams>) {
          j["line"] = p.line;
          j["classes"] = p.classes;
          j["hysteresis_px"] = FloatJson(p.hysteresis_px);
        } else if constexpr (std::is_same_v<T, CrowdingParams>) {
          j["zone"] = p.zone;
          j["classes"] = p.classes;
          j["count"] = p.count;
          j["seconds"] = p.seconds;
        } else if constexpr (std::is_same_v<T, AbandonedObjectParams>) {
          j["classes"] = p.classes;
          j["seconds"] = p.seconds;
          j["person_distance_px"] = FloatJson(p.person_distance_px);
          j["still_px"] = FloatJson(p.still_px);
        } else if constexpr (std::is_same_v<T, ParkingParams>) {
          j["zone"] = p.zone;
          j["classes"] = p.classes;
          j["seconds"] = p.seconds;
          j["still_px"] = FloatJson(p.still_px);
        } else if constexpr (std::is_same_v<T, LicencePlateParams>) {
          j["pattern"] = p.pattern;
          j["known"] = p.known;
          j["max_distance"] = p.max_distance;
        } else if constexpr (std::is_same_v<T, SinkParams>) {
          j["mqtt"] = p.mqtt;
          j["webhook"] = p.webhook;
        }
      },
      params);
  return j;
}

}  // namespace

std::string_view BlockTypeName(BlockType type) {
  const auto i = static_cast<size_t>(type);
  return i < kBlockNames.size() ? kBlockNames[i] : std::string_view("unknown");
}

std::optional<BlockType> BlockTypeFromName(std::string_view name) {
  for (size_t i = 0; i < kBlockNames.size(); ++i) {
    if (kBlockNames[i] == name) return static_cast<BlockType>(i);
  }
  return std::nullopt;
}

bool IsRule(BlockType type) {
  return type >= BlockType::kZoneIntrusion && type <= BlockType::kLicencePlate;
}

const BlockSpec* CameraSpec::FindBlock(std::string_view block_id) const {
  for (const BlockSpec& b : blocks) {
    if (b.id == block_id) return &b;
  }
  return nullptr;
}

const Zone* CameraSpec::FindZone(std::string_view name) const {
  for (const Zone& z : zones) {
    if (z.name == name) return &z;
  }
  return nullptr;
}

const Line* CameraSpec::FindLine(std::string_view name) const {
  for (const Line& l : lines) {
    if (l.name == name) return &l;
  }
  return nullptr;
}

namespace internal {

absl::StatusOr<CameraSpec> ParseCamera(const json& camera, const std::string& label) {
  if (!camera.is_object()) {
    return absl::InvalidArgumentError(
        Cat(label, ": must be a mapping (id, source, pipeline, ...)"));
  }
  try {
    // Everything kept is served back as JSON text later: refuse what cannot be.
    (void)camera.dump();
  } catch (const json::exception&) {
    return absl::InvalidArgumentError(Cat(label, ": text is not valid UTF-8"));
  }
  CameraSpec spec;
  RETURN_IF_ERROR(ObjectReader(camera, CameraPrefix(label)).Id("id", spec.id, true));
  const std::string name = CameraLabel(spec.id);
  const ObjectReader r(camera, CameraPrefix(name));
  RETURN_IF_ERROR(r.CheckKeys(
      {"id", "group", "node_group", "enabled", "source", "zones", "lines", "pipeline"}));
  for (const auto& [key, field] : {std::pair{"group", &spec.group}, {"node_group", &spec.node_group}}) {
    if (const json* value = r.Get(key);
        value != nullptr && !(value->is_string() && value->get_ref<const std::string&>().empty())) {
      RETURN_IF_ERROR(r.Id(key, *field, false));
    }
  }
  RETURN_IF_ERROR(r.Bool("enabled", spec.enabled));
  RETURN_IF_ERROR(CheckSource(r));
  spec.source = *r.Get("source");
  ASSIGN_OR_RETURN(spec.zones, ParseZones(r.Get("zones"), name));
  ASSIGN_OR_RETURN(spec.lines, ParseLines(r.Get("lines"), name));
  RETURN_IF_ERROR(CheckGeometry(spec.zones, spec.lines, name));
  RETURN_IF_ERROR(ParseBlocks(r, name, spec));
  return spec;
}

}  // namespace internal

absl::StatusOr<CameraSpec> ParseCameraSpec(const json& camera) {
  try {
    return internal::ParseCamera(camera, "camera");
  } catch (const std::exception& e) {  // defensive: nothing above should throw
    return absl::InvalidArgumentError(Cat("camera: ", e.what()));
  }
}

json ToJson(const CameraSpec& spec) {
  json j = json::object();
  j["id"] = spec.id;
  j["group"] = spec.group;
  j["node_group"] = spec.node_group;
  j["enabled"] = spec.enabled;
  j["source"] = spec.source;
  json zones = json::array();
  for (const Zone& z : spec.zones) {
    json polygon = json::array();
    for (const Point& p : z.polygon) polygon.push_back(PointJson(p));
    zones.push_back({{"name", z.name}, {"polygon", std::move(polygon)}});
  }
  j["zones"] = std::move(zones);
  json lines = json::array();
  for (const Line& l : spec.lines) {
    lines.push_back({{"name", l.name}, {"from", PointJson(l.from)}, {"to", PointJson(l.to)}});
  }
  j["lines"] = std::move(lines);
  json pipeline = json::array();
  for (const BlockSpec& b : spec.blocks) {
    json block = ParamsJson(b.params);
    block["id"] = b.id;
    block["block"] = BlockTypeName(b.type);
    if (b.type == BlockType::kSink) {
      block["input"] = b.inputs;
    } else {
      block["input"] = b.inputs.empty() ? std::string() : b.inputs.front();
    }
    pipeline.push_back(std::move(block));
  }
  j["pipeline"] = std::move(pipeline);
  return j;
}

absl::Status SetGeometry(CameraSpec& spec, std::vector<Zone> zones, std::vector<Line> lines) {
  const std::string camera = CameraLabel(spec.id);
  RETURN_IF_ERROR(CheckGeometry(zones, lines, camera));
  // Re-validate every block's parameters against the new geometry through the
  // same parser the document goes through.
  const Geometry g{zones, lines};
  for (const BlockSpec& b : spec.blocks) {
    json block = ParamsJson(b.params);
    const ObjectReader r(block, Cat(camera, ": block ", Quoted(b.id), ": "));
    RETURN_IF_ERROR(ParseParams(b.type, r, g).status());
  }
  spec.zones = std::move(zones);
  spec.lines = std::move(lines);
  return absl::OkStatus();
}

absl::Status SetGeometry(CameraSpec& spec, const json& geometry) {
  const std::string camera = CameraLabel(spec.id);
  if (!geometry.is_object()) {
    return absl::InvalidArgumentError(Cat(camera, ": geometry must be a mapping {zones, lines}"));
  }
  const ObjectReader r(geometry, CameraPrefix(camera));
  RETURN_IF_ERROR(r.CheckKeys({"zones", "lines"}));
  ASSIGN_OR_RETURN(std::vector<Zone> zones, ParseZones(r.Get("zones"), camera));
  ASSIGN_OR_RETURN(std::vector<Line> lines, ParseLines(r.Get("lines"), camera));
  return SetGeometry(spec, std::move(zones), std::move(lines));
}

bool PointInPolygon(const std::vector<Point>& polygon, Point p) {
  bool inside = false;
  for (size_t i = 0, j = polygon.size() - 1; i < polygon.size(); j = i++) {
    const Point& a = polygon[i];
    const Point& b = polygon[j];
    if ((a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x) {
      inside = !inside;
    }
  }
  return inside;
}

}  // namespace heteroaccel::pipeline

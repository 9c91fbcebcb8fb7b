#include "pipeline/spec/spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>

namespace heteroaccel::pipeline {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

// The schema's example, verbatim.
constexpr std::string_view kExampleYaml = R"(
cameras:
  - id: gate-1                  # [A-Za-z0-9_.-]{1,64}, unique
    group: north                # optional, same charset, "" = none
    node_group: line-1          # optional: inference only on nodes of this group
    enabled: true               # start at load (default true)
    source:                     # exactly one type
      type: file                # file | rtsp | mjpeg | push
      path: /data/vtest.avi     # file: a path; rtsp/mjpeg: url: rtsp://... / http://...
      loop: false               # file only (default false)
      realtime: false
      fps: 5
    zones:                      # optional named polygons, pixel coordinates of the frame
      - {name: door, polygon: [[100, 200], [300, 200], [300, 400], [100, 400]]}
    lines:                      # optional named directed segments
      - {name: entry, from: [0, 300], to: [768, 300]}
    pipeline:                   # a DAG; the root is the implicit block id `source`
      - {id: det, block: detect, input: source, type: object, variant: "", deadline_ms: 1000, every: 1}
      - {id: people, block: filter, input: det, classes: [person], min_score: 0.4,
         min_area: 400, max_area: 200000, mask: [door]}   # mask: zones whose detections are dropped
      - {id: trk, block: track, input: people, min_hits: 3, max_lost: 30, iou: 0.3}
      - {id: pose, block: crop_infer, input: trk, classes: [person], type: pose}
      - {id: plates, block: crop_infer, input: trk, classes: [car], type: text}
      - {id: colour, block: colour, input: trk}
      - {id: in-door, block: zone_intrusion, input: trk, zone: door, classes: [person], inertia: 3}
      - {id: loiter, block: loitering, input: trk, zone: door, classes: [person], seconds: 10}
      - {id: cross, block: line_crossing, input: trk, line: entry, classes: [person], hysteresis_px: 8}
      - {id: crowd, block: crowding, input: trk, zone: door, classes: [person], count: 5, seconds: 3}
      - {id: bag, block: abandoned_object, input: trk, classes: [suitcase, backpack, handbag],
         seconds: 10, person_distance_px: 150, still_px: 10}
      - {id: park, block: parking, input: trk, zone: door, classes: [car], seconds: 10, still_px: 10}
      - {id: fall, block: fall, input: pose}
      - {id: plate, block: licence_plate, input: plates, pattern: "^[A-Z0-9]{5,8}$",
         known: [AB123CD], max_distance: 1}
      - {id: out, block: sink, input: [in-door, cross, fall], mqtt: true, webhook: "http://host/hook"}
)";

json Example() {
  auto cams = YamlToJson(kExampleYaml);
  EXPECT_TRUE(cams.ok()) << cams.status();
  return (*cams)["cameras"][0];
}

json Minimal() {
  return json::parse(R"({"id": "cam", "source": {"type": "rtsp", "url": "rtsp://x/y"},
    "zones": [{"name": "door", "polygon": [[0,0],[10,0],[10,10]]}],
    "lines": [{"name": "entry", "from": [0,5], "to": [10,5]}],
    "pipeline": [{"id": "det", "block": "detect", "input": "source", "type": "object"},
                 {"id": "trk", "block": "track", "input": "det"}]})");
}

// Minimal() with one more block.
json With(const json& block) {
  json doc = Minimal();
  doc["pipeline"].push_back(block);
  return doc;
}

std::string ErrorOf(const json& doc) {
  auto spec = ParseCameraSpec(doc);
  if (spec.ok()) return "OK";
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(spec.status().message());
}

TEST(CameraSpecTest, ParsesTheSchemaExample) {
  auto cams = ParseCamerasYaml(kExampleYaml);
  ASSERT_TRUE(cams.ok()) << cams.status();
  ASSERT_EQ(cams->size(), 1u);
  const CameraSpec& c = (*cams)[0];
  EXPECT_EQ(c.id, "gate-1");
  EXPECT_EQ(c.group, "north");
  EXPECT_EQ(c.node_group, "line-1");
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.source["type"], "file");
  EXPECT_EQ(c.source["path"], "/data/vtest.avi");
  EXPECT_EQ(c.source["fps"], 5);
  ASSERT_EQ(c.zones.size(), 1u);
  EXPECT_EQ(c.zones[0].polygon.size(), 4u);
  EXPECT_EQ(c.zones[0].polygon[2], (Point{300, 400}));
  ASSERT_EQ(c.lines.size(), 1u);
  EXPECT_EQ(c.lines[0].to, (Point{768, 300}));
  ASSERT_EQ(c.blocks.size(), 15u);

  const auto& det = std::get<DetectParams>(c.FindBlock("det")->params);
  EXPECT_EQ(det.type, "object");
  EXPECT_EQ(det.deadline_ms, 1000.0);
  const auto& filter = std::get<FilterParams>(c.FindBlock("people")->params);
  EXPECT_FLOAT_EQ(filter.min_score, 0.4F);
  EXPECT_EQ(filter.max_area, 200000.0);
  EXPECT_EQ(filter.mask, std::vector<std::string>{"door"});
  const auto& trk = std::get<TrackParams>(c.FindBlock("trk")->params);
  EXPECT_EQ(trk.min_hits, 3);
  EXPECT_FLOAT_EQ(trk.iou, 0.3F);
  EXPECT_EQ(std::get<CropInferParams>(c.FindBlock("pose")->params).type, "pose");
  EXPECT_EQ(std::get<LineCrossingParams>(c.FindBlock("cross")->params).line, "entry");
  EXPECT_EQ(std::get<CrowdingParams>(c.FindBlock("crowd")->params).count, 5);
  const auto& bag = std::get<AbandonedObjectParams>(c.FindBlock("bag")->params);
  EXPECT_EQ(bag.classes.size(), 3u);
  EXPECT_FLOAT_EQ(bag.person_distance_px, 150);
  const auto& plate = std::get<LicencePlateParams>(c.FindBlock("plate")->params);
  EXPECT_EQ(plate.pattern, "^[A-Z0-9]{5,8}$");
  EXPECT_EQ(plate.known, std::vector<std::string>{"AB123CD"});
  const BlockSpec* out = c.FindBlock("out");
  EXPECT_EQ(out->type, BlockType::kSink);
  EXPECT_EQ(out->inputs, (std::vector<std::string>{"in-door", "cross", "fall"}));
  EXPECT_TRUE(std::get<SinkParams>(out->params).mqtt);
  EXPECT_EQ(std::get<SinkParams>(out->params).webhook, "http://host/hook");
  for (const BlockSpec& b : c.blocks) {
    EXPECT_EQ(b.params.index(), static_cast<size_t>(b.type)) << b.id;
  }
}

TEST(CameraSpecTest, RoundTripsThroughJson) {
  auto first = ParseCameraSpec(Example());
  ASSERT_TRUE(first.ok()) << first.status();
  const json j = ToJson(*first);
  auto second = ParseCameraSpec(j);
  ASSERT_TRUE(second.ok()) << second.status() << "\n" << j.dump(2);
  EXPECT_EQ(*first, *second);
  // Through text as well (what the API stores and serves).
  auto third = ParseCameraSpec(json::parse(j.dump()));
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(*first, *third);
  EXPECT_EQ(ToJson(*third), j);
  // Floats are written as they were given.
  EXPECT_EQ(j["pipeline"][1]["min_score"].dump(), "0.4");
  EXPECT_EQ(j["pipeline"][2]["iou"].dump(), "0.3");
  EXPECT_EQ(j["zones"][0]["polygon"][0].dump(), "[100.0,200.0]");
}

TEST(CameraSpecTest, DefaultsAreTheSchemas) {
  auto spec = ParseCameraSpec(Minimal());
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(spec->enabled);
  EXPECT_EQ(spec->group, "");
  EXPECT_EQ(spec->node_group, "");
  const auto& det = std::get<DetectParams>(spec->blocks[0].params);
  EXPECT_EQ(det.every, 1);
  EXPECT_FALSE(det.deadline_ms.has_value());
  const auto& trk = std::get<TrackParams>(spec->blocks[1].params);
  EXPECT_EQ(trk.min_hits, 3);
  EXPECT_EQ(trk.max_lost, 30);
  EXPECT_FLOAT_EQ(trk.iou, 0.3F);
}

TEST(CameraSpecTest, ClassesAreLowerCaseLikeTheLabelsTheyMatch) {
  auto spec = ParseCameraSpec(With(json::parse(
      R"({"id": "cross", "block": "line_crossing", "input": "trk", "line": "entry",
          "classes": ["Person", "CAR"]})")));
  ASSERT_TRUE(spec.ok()) << spec.status();
  const auto& p = std::get<LineCrossingParams>(spec->FindBlock("cross")->params);
  EXPECT_EQ(p.classes, (std::vector<std::string>{"person", "car"}));
}

TEST(CameraSpecTest, TopologicalOrderPutsInputsFirst) {
  json doc = Minimal();
  // Declared out of order: the rule before its track's filter chain.
  doc["pipeline"] = json::parse(R"([
    {"id": "sink", "block": "sink", "input": ["in"]},
    {"id": "in", "block": "zone_intrusion", "input": "trk", "zone": "door"},
    {"id": "trk", "block": "track", "input": "f2"},
    {"id": "f2", "block": "filter", "input": "f1"},
    {"id": "f1", "block": "filter", "input": "det"},
    {"id": "det", "block": "detect", "input": "source", "type": "object"}])");
  auto spec = ParseCameraSpec(doc);
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto order = TopologicalOrder(*spec);
  ASSERT_TRUE(order.ok());
  std::vector<std::string> ids;
  for (size_t i : *order) ids.push_back(spec->blocks[i].id);
  EXPECT_EQ(ids, (std::vector<std::string>{"det", "f1", "f2", "trk", "in", "sink"}));

  auto example = ParseCameraSpec(Example());
  ASSERT_TRUE(example.ok());
  auto same = TopologicalOrder(*example);
  ASSERT_TRUE(same.ok());
  for (size_t i = 0; i < same->size(); ++i) EXPECT_EQ((*same)[i], i);  // already in order
}

struct ErrorCase {
  std::string name;
  json doc;
  std::string message;
};

std::vector<ErrorCase> ErrorCases() {
  std::vector<ErrorCase> cases;
  auto add = [&cases](std::string name, json doc, std::string message) {
    cases.push_back({std::move(name), std::move(doc), std::move(message)});
  };
  auto edit = [](auto f) {
    json d = Minimal();
    f(d);
    return d;
  };
  const std::string c = "camera \"cam\": ";
  add("NotAnObject", json::array(), "camera: must be a mapping (id, source, pipeline, ...)");
  add("MissingId", edit([](json& d) { d.erase("id"); }), "camera: key \"id\": is required");
  add("BadIdCharset", edit([](json& d) { d["id"] = "a b"; }),
      "camera: key \"id\": must be 1 to 64 characters of A-Z a-z 0-9 _ . -");
  add("IdTooLong", edit([](json& d) { d["id"] = std::string(65, 'a'); }),
      "camera: key \"id\": must be 1 to 64 characters of A-Z a-z 0-9 _ . -");
  add("UnknownCameraKey", edit([](json& d) { d["foo"] = 1; }), c + "unknown key \"foo\"");
  add("BadGroup", edit([](json& d) { d["group"] = "x/y"; }),
      c + "key \"group\": must be 1 to 64 characters of A-Z a-z 0-9 _ . -");
  add("BadNodeGroup", edit([](json& d) { d["node_group"] = "a b"; }),
      c + "key \"node_group\": must be 1 to 64 characters of A-Z a-z 0-9 _ . -");
  add("EnabledNotBool", edit([](json& d) { d["enabled"] = "yes"; }),
      c + "key \"enabled\": must be true or false");
  add("MissingSource", edit([](json& d) { d.erase("source"); }), c + "key \"source\": is required");
  add("SourceNotObject", edit([](json& d) { d["source"] = "file"; }),
      c + "key \"source\": must be a mapping with a \"type\"");
  add("SourceNoType", edit([](json& d) { d["source"] = json::object(); }),
      c + "key \"source\": needs \"type\": one of file, rtsp, mjpeg, push");
  add("SourceBadType", edit([](json& d) { d["source"]["type"] = "usb"; }),
      c + "key \"source.type\": unknown source type \"usb\" (known: file, rtsp, mjpeg, push)");
  add("ZoneTwoPoints", edit([](json& d) {
        d["zones"][0]["polygon"] = {{0, 0}, {1, 1}};
      }),
      c + "zone \"door\": key \"polygon\": needs at least 3 points");
  add("ZoneTooManyPoints", edit([](json& d) {
        json p = json::array();
        for (int i = 0; i < 65; ++i) p.push_back({i, i * i});
        d["zones"][0]["polygon"] = p;
      }),
      c + "zone \"door\": key \"polygon\": at most 64 points");
  add("ZonePointNotPair", edit([](json& d) {
        d["zones"][0]["polygon"][1] = {1, 2, 3};
      }),
      c + "zone \"door\": key \"polygon\": point 1: must be [x, y]");
  add("ZonePointHuge", edit([](json& d) {
        d["zones"][0]["polygon"][1] = {1e30, 2};
      }),
      c + "zone \"door\": key \"polygon\": point 1: coordinates must be within +-100000");
  add("ZoneCollinear", edit([](json& d) {
        d["zones"][0]["polygon"] = {{0, 0}, {1, 1}, {2, 2}};
      }),
      c + "zone \"door\": key \"polygon\": has zero area (points on one line)");
  add("ZoneDuplicate", edit([](json& d) { d["zones"].push_back(d["zones"][0]); }),
      c + "zone \"door\": duplicate zone name");
  add("ZoneUnknownKey", edit([](json& d) { d["zones"][0]["colour"] = "red"; }),
      c + "zone \"door\": unknown key \"colour\"");
  add("ZoneNoName", edit([](json& d) { d["zones"][0].erase("name"); }),
      c + "zones[0]: key \"name\": is required");
  add("TooManyZones", edit([](json& d) {
        json zones = json::array();
        for (int i = 0; i < 33; ++i) {
          zones.push_back(
              {{"name", "z" + std::to_string(i)}, {"polygon", {{0, 0}, {10, 0}, {10, 10}}}});
        }
        d["zones"] = zones;
      }),
      c + "key \"zones\": at most 32 zones");
  add("LineFromEqualsTo", edit([](json& d) {
        d["lines"][0]["to"] = {0, 5};
      }),
      c + "line \"entry\": key \"to\": must differ from \"from\"");
  add("LineMissingTo", edit([](json& d) { d["lines"][0].erase("to"); }),
      c + "line \"entry\": key \"to\": is required");
  add("MissingPipeline", edit([](json& d) { d.erase("pipeline"); }),
      c + "key \"pipeline\": needs a detect block (input: source)");
  add("NoDetect", edit([](json& d) { d["pipeline"] = json::array(); }),
      c + "key \"pipeline\": needs a detect block (input: source)");
  add("TooManyBlocks", edit([](json& d) {
        for (int i = 0; i < 63; ++i) {
          d["pipeline"].push_back(
              {{"id", "f" + std::to_string(i)}, {"block", "filter"}, {"input", "det"}});
        }
      }),
      c + "key \"pipeline\": at most 64 blocks");
  add("BlockNotObject", edit([](json& d) { d["pipeline"][1] = "trk"; }),
      c + "pipeline[1]: must be a mapping (id, block, input, ...)");
  add("BlockNoId", edit([](json& d) { d["pipeline"][1].erase("id"); }),
      c + "pipeline[1]: key \"id\": is required");
  add("BlockIdSource", edit([](json& d) { d["pipeline"][1]["id"] = "source"; }),
      c + "block \"source\": key \"id\": \"source\" is the camera's frames, not a block id");
  add("DuplicateBlock", edit([](json& d) { d["pipeline"][1]["id"] = "det"; }),
      c + "block \"det\": duplicate block id");
  add("UnknownBlockType", With({{"id", "x"}, {"block", "detector"}, {"input", "source"}}),
      c + "block \"x\": unknown block type \"detector\" (known: detect, filter, track, "
          "crop_infer, colour, zone_intrusion, loitering, line_crossing, crowding, "
          "abandoned_object, parking, fall, licence_plate, sink)");
  add("UnknownBlockKey", edit([](json& d) { d["pipeline"][1]["foo"] = 1; }),
      c + "block \"trk\": unknown key \"foo\"");
  add("KeyOfAnotherType", edit([](json& d) { d["pipeline"][1]["zone"] = "door"; }),
      c + "block \"trk\": unknown key \"zone\"");
  add("MissingInput", edit([](json& d) { d["pipeline"][1].erase("input"); }),
      c + "block \"trk\": key \"input\": is required");
  add("InputListOnTrack", edit([](json& d) { d["pipeline"][1]["input"] = {"det"}; }),
      c + "block \"trk\": key \"input\": must be one block id");
  add("MinHitsZero", edit([](json& d) { d["pipeline"][1]["min_hits"] = 0; }),
      c + "block \"trk\": key \"min_hits\": must be >= 1");
  add("MinHitsFraction", edit([](json& d) { d["pipeline"][1]["min_hits"] = 2.5; }),
      c + "block \"trk\": key \"min_hits\": must be a whole number");
  add("MaxLostNegative", edit([](json& d) { d["pipeline"][1]["max_lost"] = -1; }),
      c + "block \"trk\": key \"max_lost\": must be >= 0");
  add("IouZero", edit([](json& d) { d["pipeline"][1]["iou"] = 0; }),
      c + "block \"trk\": key \"iou\": must be > 0");
  add("IouAboveOne", edit([](json& d) { d["pipeline"][1]["iou"] = 1.5; }),
      c + "block \"trk\": key \"iou\": must be <= 1");
  add("IouString", edit([](json& d) { d["pipeline"][1]["iou"] = "0.3"; }),
      c + "block \"trk\": key \"iou\": must be a number");
  add("DetectNoType", edit([](json& d) { d["pipeline"][0].erase("type"); }),
      c + "block \"det\": key \"type\": is required");
  add("DetectBadType", edit([](json& d) { d["pipeline"][0]["type"] = "cars"; }),
      c + "block \"det\": key \"type\": unknown inference type \"cars\" (known: object, face, "
          "pose, hand, gesture, text)");
  add("DeadlineZero", edit([](json& d) { d["pipeline"][0]["deadline_ms"] = 0; }),
      c + "block \"det\": key \"deadline_ms\": must be > 0");
  add("EveryZero", edit([](json& d) { d["pipeline"][0]["every"] = 0; }),
      c + "block \"det\": key \"every\": must be >= 1");
  add("MinScoreAboveOne",
      With({{"id", "f"}, {"block", "filter"}, {"input", "det"}, {"min_score", 2}}),
      c + "block \"f\": key \"min_score\": must be <= 1");
  add("MinAreaAboveMax",
      With({{"id", "f"}, {"block", "filter"}, {"input", "det"}, {"min_area", 10}, {"max_area", 5}}),
      c + "block \"f\": key \"max_area\": must be >= min_area");
  add("MaskUnknownZone",
      With({{"id", "f"}, {"block", "filter"}, {"input", "det"}, {"mask", {"hall"}}}),
      c + "block \"f\": key \"mask\": no zone named \"hall\" on this camera");
  add("ClassesNotStrings",
      With({{"id", "f"}, {"block", "filter"}, {"input", "det"}, {"classes", {1}}}),
      c + "block \"f\": key \"classes\": must be a list of strings (quote numbers in YAML)");
  add("ClassesRepeated",
      With({{"id", "f"}, {"block", "filter"}, {"input", "det"}, {"classes", {"a", "a"}}}),
      c + "block \"f\": key \"classes\": \"a\" is listed twice");
  add("InputNotABlock", With({{"id", "x"}, {"block", "filter"}, {"input", "nope"}}),
      c + "block \"x\": input \"nope\" is not a block");
  add("RuleFedByDetect",
      With({{"id", "in"}, {"block", "zone_intrusion"}, {"input", "det"}, {"zone", "door"}}),
      c + "block \"in\": input \"det\" is a detect; zone_intrusion takes a track");
  add("TrackFedByTrack", With({{"id", "t2"}, {"block", "track"}, {"input", "trk"}}),
      c + "block \"t2\": input \"trk\" is a track; track takes a detect or filter");
  add("FilterFedBySource", With({{"id", "f"}, {"block", "filter"}, {"input", "source"}}),
      c + "block \"f\": input \"source\" is the camera's frames; filter takes a detect or filter");
  add("DetectFedByDetect",
      With({{"id", "d2"}, {"block", "detect"}, {"input", "det"}, {"type", "face"}}),
      c + "block \"d2\": input \"det\" is a detect; detect takes source");
  {
    json d = With({{"id", "ocr"}, {"block", "crop_infer"}, {"input", "trk"}, {"type", "text"}});
    d["pipeline"].push_back({{"id", "fall"}, {"block", "fall"}, {"input", "ocr"}});
    add("FallFedByText", d,
        c + "block \"fall\": input \"ocr\" is a crop_infer of type \"text\"; fall takes a "
            "crop_infer of type \"pose\"");
  }
  {
    json d = With({{"id", "p"}, {"block", "crop_infer"}, {"input", "trk"}, {"type", "pose"}});
    d["pipeline"].push_back({{"id", "lp"}, {"block", "licence_plate"}, {"input", "p"}});
    add("PlateFedByPose", d,
        c + "block \"lp\": input \"p\" is a crop_infer of type \"pose\"; licence_plate takes a "
            "crop_infer of type \"text\"");
  }
  add("FallFedByTrack", With({{"id", "fall"}, {"block", "fall"}, {"input", "trk"}}),
      c + "block \"fall\": input \"trk\" is a track; fall takes a crop_infer of type \"pose\"");
  add("SinkFedByTrack", With({{"id", "s"}, {"block", "sink"}, {"input", {"trk"}}}),
      c + "block \"s\": input \"trk\" is a track; sink takes rules");
  add("SinkEmptyInput", With({{"id", "s"}, {"block", "sink"}, {"input", json::array()}}),
      c + "block \"s\": key \"input\": must name at least one rule");
  add("SinkBadWebhook",
      With({{"id", "s"}, {"block", "sink"}, {"input", "det"}, {"webhook", "ftp://x"}}),
      c + "block \"s\": key \"webhook\": must be an http:// or https:// URL with a host");
  add("SinkMqttNotBool", With({{"id", "s"}, {"block", "sink"}, {"input", "det"}, {"mqtt", 1}}),
      c + "block \"s\": key \"mqtt\": must be true or false");
  {
    json d = Minimal();
    d["pipeline"].push_back({{"id", "a"}, {"block", "filter"}, {"input", "b"}});
    d["pipeline"].push_back({{"id", "b"}, {"block", "filter"}, {"input", "a"}});
    add("Cycle", d, c + "block \"a\": cycle through blocks a -> b -> a");
  }
  {
    json d = Minimal();
    d["pipeline"].push_back({{"id", "a"}, {"block", "filter"}, {"input", "a"}});
    add("SelfLoop", d, c + "block \"a\": cycle through blocks a -> a");
  }
  add("ZoneRuleUnknownZone",
      With({{"id", "in"}, {"block", "zone_intrusion"}, {"input", "trk"}, {"zone", "hall"}}),
      c + "block \"in\": key \"zone\": no zone named \"hall\" on this camera");
  add("LineRuleUnknownLine",
      With({{"id", "cross"}, {"block", "line_crossing"}, {"input", "trk"}, {"line", "entry2"}}),
      c + "block \"cross\": key \"line\": no line named \"entry2\" on this camera");
  add("InertiaZero",
      With({{"id", "in"},
            {"block", "zone_intrusion"},
            {"input", "trk"},
            {"zone", "door"},
            {"inertia", 0}}),
      c + "block \"in\": key \"inertia\": must be >= 1");
  add("LoiterNoSeconds",
      With({{"id", "l"}, {"block", "loitering"}, {"input", "trk"}, {"zone", "door"}}),
      c + "block \"l\": key \"seconds\": is required");
  add("LoiterSecondsZero",
      With({{"id", "l"},
            {"block", "loitering"},
            {"input", "trk"},
            {"zone", "door"},
            {"seconds", 0}}),
      c + "block \"l\": key \"seconds\": must be > 0");
  add("CrowdCountZero",
      With({{"id", "cr"},
            {"block", "crowding"},
            {"input", "trk"},
            {"zone", "door"},
            {"count", 0},
            {"seconds", 1}}),
      c + "block \"cr\": key \"count\": must be >= 1");
  add("HysteresisNegative",
      With({{"id", "x"},
            {"block", "line_crossing"},
            {"input", "trk"},
            {"line", "entry"},
            {"hysteresis_px", -1}}),
      c + "block \"x\": key \"hysteresis_px\": must be >= 0");
  add("StillNegative",
      With({{"id", "b"},
            {"block", "abandoned_object"},
            {"input", "trk"},
            {"seconds", 5},
            {"still_px", -2}}),
      c + "block \"b\": key \"still_px\": must be >= 0");
  add("ParkingNoZone", With({{"id", "p"}, {"block", "parking"}, {"input", "trk"}, {"seconds", 5}}),
      c + "block \"p\": key \"zone\": is required");
  {
    json d = With({{"id", "ocr"}, {"block", "crop_infer"}, {"input", "trk"}, {"type", "text"}});
    d["pipeline"].push_back(
        {{"id", "lp"}, {"block", "licence_plate"}, {"input", "ocr"}, {"pattern", "([A-Z"}});
    add("BadPattern", d, c + "block \"lp\": key \"pattern\": is not a valid regular expression");
    d["pipeline"].back()["pattern"] = "^A{1000}$";
    add("HugeRepeat", d, c + "block \"lp\": key \"pattern\": repetition counts above 64");
    d["pipeline"].back()["pattern"] = "";
    d["pipeline"].back()["max_distance"] = 17;
    add("MaxDistance", d, c + "block \"lp\": key \"max_distance\": must be <= 16");
  }
  add("CropInferNotOnTrack",
      With({{"id", "ci"}, {"block", "crop_infer"}, {"input", "det"}, {"type", "pose"}}),
      c + "block \"ci\": input \"det\" is a detect; crop_infer takes a track");
  return cases;
}

TEST(CameraSpecTest, EveryErrorNamesCameraBlockAndKey) {
  for (const ErrorCase& e : ErrorCases()) {
    SCOPED_TRACE(e.name);
    const std::string got = ErrorOf(e.doc);
    EXPECT_THAT(got, HasSubstr(e.message));
    if (e.message.find("regular expression") == std::string::npos &&
        e.message.find("repetition") == std::string::npos) {
      EXPECT_EQ(got, e.message);  // exactly, where the message has no library text
    }
  }
}

TEST(CameraSpecTest, YamlErrorsAreLocated) {
  auto bad = ParseCamerasYaml("cameras:\n  - id: [unclosed\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("cameras file: line "));

  auto no_id = ParseCamerasYaml("cameras:\n  - {source: {type: push}}\n");
  ASSERT_FALSE(no_id.ok());
  EXPECT_EQ(no_id.status().message(), "cameras[0]: key \"id\": is required");

  auto unknown = ParseCamerasYaml("camera: []\n");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message(), "cameras file: unknown key \"camera\"");

  auto twice = ParseCamerasYaml("cameras: []\ncameras: []\n");
  ASSERT_FALSE(twice.ok());
  EXPECT_THAT(twice.status().message(), HasSubstr("key \"cameras\" given twice"));

  auto latin1 = ParseCamerasYaml(
      "cameras:\n  - {id: a, source: {type: push, note: \"caf\xe9\"}, pipeline: []}\n");
  ASSERT_FALSE(latin1.ok());
  EXPECT_EQ(latin1.status().message(), "cameras[0]: text is not valid UTF-8");

  auto empty = ParseCamerasYaml("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(CameraSpecTest, DuplicateCameraIdsInFileAreRefused) {
  const std::string cam =
      "  - {id: a, source: {type: push}, pipeline: [{id: d, block: detect, input: source, "
      "type: face}]}\n";
  auto cams = ParseCamerasYaml("cameras:\n" + cam + cam);
  ASSERT_FALSE(cams.ok());
  EXPECT_EQ(cams.status().message(), "camera \"a\": duplicate camera id");
}

TEST(CameraSpecTest, YamlScalarsAreTyped) {
  auto j =
      YamlToJson("a: 3\nb: 3.5\nc: true\nd: ~\ne: '3'\nf: yes\ng: -1e3\nh: 0x10\ni: !!str 7\n");
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_TRUE((*j)["a"].is_number_integer());
  EXPECT_EQ((*j)["b"], 3.5);
  EXPECT_EQ((*j)["c"], true);
  EXPECT_TRUE((*j)["d"].is_null());
  EXPECT_EQ((*j)["e"], "3");
  EXPECT_EQ((*j)["f"], "yes");  // YAML 1.2: only true/false are booleans
  EXPECT_EQ((*j)["g"], -1000.0);
  EXPECT_EQ((*j)["h"], "0x10");
  EXPECT_EQ((*j)["i"], "7");
}

TEST(CameraSpecTest, YamlAliasBombIsBounded) {
  std::string yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    const std::string prev = "*a" + std::to_string(i - 1);
    yaml += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev + ", " + prev +
            ", " + prev + ", " + prev + ", " + prev + ", " + prev + ", " + prev + ", " + prev +
            ", " + prev + ", " + prev + "]\n";
  }
  auto j = YamlToJson(yaml);
  ASSERT_FALSE(j.ok());
  EXPECT_THAT(j.status().message(), HasSubstr("aliases expanded"));

  auto deep = YamlToJson(std::string(500, '[') + std::string(500, ']'));
  ASSERT_FALSE(deep.ok());
  EXPECT_THAT(deep.status().message(), HasSubstr("cameras file:"));

  auto big = ParseCamerasYaml(std::string(kMaxCamerasYamlBytes + 1, ' '));
  ASSERT_FALSE(big.ok());
  EXPECT_THAT(big.status().message(), HasSubstr("bytes; at most"));
}

TEST(CameraSpecTest, SetGeometryRevalidatesReferences) {
  auto spec = ParseCameraSpec(Example());
  ASSERT_TRUE(spec.ok());
  const CameraSpec before = *spec;

  // Renaming the zone the rules use is refused, and nothing changes.
  std::vector<Zone> zones = spec->zones;
  zones[0].name = "hall";
  absl::Status s = SetGeometry(*spec, zones, spec->lines);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "camera \"gate-1\": block \"people\": key \"mask\": no zone named "
            "\"door\" on this camera");
  EXPECT_EQ(*spec, before);

  s = SetGeometry(*spec, spec->zones, {});
  EXPECT_EQ(s.message(),
            "camera \"gate-1\": block \"cross\": key \"line\": no line named \"entry\" on this "
            "camera");

  zones = spec->zones;
  zones[0].polygon.resize(2);
  s = SetGeometry(*spec, zones, spec->lines);
  EXPECT_EQ(s.message(),
            "camera \"gate-1\": zone \"door\": key \"polygon\": needs at least 3 points");

  // Moving the zone and adding one is fine.
  zones = spec->zones;
  zones[0].polygon[0] = {50, 60};
  zones.push_back({"yard", {{0, 0}, {5, 0}, {0, 5}}});
  ASSERT_TRUE(SetGeometry(*spec, zones, spec->lines).ok());
  EXPECT_EQ(spec->zones, zones);

  // The JSON form takes the document's syntax.
  s = SetGeometry(*spec,
                  json::parse(R"({"zones": [{"name": "door", "polygon": [[0,0],[1,0],[1,1]]}],
                                         "lines": [{"name": "entry", "from": [0,0], "to": [0,0]}]})"));
  EXPECT_EQ(s.message(),
            "camera \"gate-1\": line \"entry\": key \"to\": must differ from \"from\"");
  s = SetGeometry(*spec,
                  json::parse(R"({"zones": [{"name": "door", "polygon": [[0,0],[1,0],[1,1]]}],
                                         "lines": [{"name": "entry", "from": [0,0], "to": [9,0]}]})"));
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(spec->lines[0].to, (Point{9, 0}));
  EXPECT_EQ(spec->zones.size(), 1u);
}

TEST(CameraSpecTest, PointInPolygon) {
  const std::vector<Point> square = {{0, 0}, {10, 0}, {10, 10}, {0, 10}};
  EXPECT_TRUE(PointInPolygon(square, {5, 5}));
  EXPECT_FALSE(PointInPolygon(square, {15, 5}));
  EXPECT_FALSE(PointInPolygon(square, {-1, 5}));
  const std::vector<Point> l_shape = {{0, 0}, {10, 0}, {10, 4}, {4, 4}, {4, 10}, {0, 10}};
  EXPECT_TRUE(PointInPolygon(l_shape, {2, 8}));
  EXPECT_FALSE(PointInPolygon(l_shape, {8, 8}));
  EXPECT_FALSE(PointInPolygon({}, {0, 0}));
}

// Random values that parsers trip on.
json RandomValue(std::mt19937& rng) {
  switch (rng() % 12) {
    case 0:
      return nullptr;
    case 1:
      return true;
    case 2:
      return static_cast<int64_t>(rng()) - (1LL << 31);
    case 3:
      return -1;
    case 4:
      return 1e300;
    case 5:
      return 0.5;
    case 6:
      return "";
    case 7:
      return "source";
    case 8:
      return json::array();
    case 9:
      return json::object();
    case 10:
      return json::array({1, 2});
    default:
      return std::string(rng() % 100, 'x');
  }
}

// Changes one random place of `doc` (deleting, replacing or adding).
void Mutate(json& doc, std::mt19937& rng) {
  json* at = &doc;
  for (int depth = 0; depth < 6; ++depth) {
    if ((!at->is_object() && !at->is_array()) || at->empty() || rng() % 3 == 0) break;
    const size_t i = rng() % at->size();
    auto it = at->begin();
    std::advance(it, static_cast<std::ptrdiff_t>(i));
    at = &*it;
  }
  const unsigned op = rng() % 4;
  if (op == 0 && at->is_object() && !at->empty()) {
    at->erase(at->begin().key());
  } else if (op == 1 && at->is_array() && !at->empty()) {
    at->erase(rng() % at->size());
  } else if (op == 2 && at->is_object()) {
    static const char* kKeys[] = {"id",      "input",    "zone",  "line",    "type", "polygon",
                                  "classes", "pipeline", "block", "seconds", "foo"};
    (*at)[kKeys[rng() % std::size(kKeys)]] = RandomValue(rng);
  } else if (op == 2 && at->is_array()) {
    at->push_back(RandomValue(rng));
  } else {
    *at = RandomValue(rng);
  }
}

TEST(CameraSpecTest, RandomMutationsNeverCrashAndValidOnesRoundTrip) {
  std::mt19937 rng(12345);
  const json base = Example();
  int accepted = 0;
  for (int round = 0; round < 3000; ++round) {
    json doc = base;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) Mutate(doc, rng);
    auto spec = ParseCameraSpec(doc);
    if (spec.ok()) {
      ++accepted;
      auto again = ParseCameraSpec(ToJson(*spec));
      ASSERT_TRUE(again.ok()) << again.status() << "\n" << doc.dump();
      EXPECT_EQ(*again, *spec);
      EXPECT_TRUE(TopologicalOrder(*spec).ok());
    } else {
      EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_FALSE(spec.status().message().empty());
    }
    // The same through YAML text (flow style is YAML).
    std::string text = "cameras: [" + doc.dump() + "]";
    if (rng() % 2 == 0 && !text.empty()) text[rng() % text.size()] = "[]{}:,'\"\n-&*!"[rng() % 14];
    auto cams = ParseCamerasYaml(text);
    if (!cams.ok()) {
      EXPECT_EQ(cams.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
  EXPECT_GT(accepted, 10);  // the mutations do leave valid documents
  EXPECT_LT(accepted, 2900);
}

}  // namespace
}  // namespace heteroaccel::pipeline

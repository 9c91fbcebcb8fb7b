#include "pipeline/rules/rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "pipeline/rules/internal/factories.h"

namespace heteroaccel::pipeline {
namespace {

using json = nlohmann::json;

// Zone "door": x 100..300, y 100..300. Line "entry": (0,200) -> (400,200), so
// "left" (negative cross product) is above it on screen.
CameraSpec Camera(const json& rule) {
  json doc = json::parse(R"({"id": "cam", "group": "north", "source": {"type": "push"},
    "zones": [{"name": "door", "polygon": [[100,100],[300,100],[300,300],[100,300]]}],
    "lines": [{"name": "entry", "from": [0,200], "to": [400,200]},
              {"name": "back", "from": [400,200], "to": [0,200]}],
    "pipeline": [{"id": "det", "block": "detect", "input": "source", "type": "object"},
                 {"id": "trk", "block": "track", "input": "det"},
                 {"id": "pose", "block": "crop_infer", "input": "trk", "type": "pose"},
                 {"id": "ocr", "block": "crop_infer", "input": "trk", "type": "text"}]})");
  doc["pipeline"].push_back(rule);
  auto spec = ParseCameraSpec(doc);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return *spec;
}

// Drives one rule with scripted frames.
class Script {
 public:
  explicit Script(const json& rule) : camera_(Camera(rule)) {
    auto made = MakeRule(camera_, camera_.blocks.back());
    EXPECT_TRUE(made.ok()) << made.status();
    rule_ = std::move(*made);
  }

  // One frame at camera time `t`; returns the events it raised.
  std::vector<Event> Step(double t, std::vector<Track> tracks, const RuleInputs& extra = {}) {
    FrameResult frame;
    frame.frame_index = next_frame_++;
    frame.time = t;
    frame.provenance.node = "node-" + std::to_string(frame.frame_index);
    for (Track& track : tracks) {
      if (!track.lost)
        track.last_seen = t;
      else
        track.last_seen = last_seen_[track.id];
      last_seen_[track.id] = track.last_seen;
    }
    std::vector<Event> out;
    rule_->Observe(frame, tracks, extra, out);
    all_.insert(all_.end(), out.begin(), out.end());
    return out;
  }
  std::vector<Event> Finish(double t) {
    std::vector<Event> out;
    rule_->Finish(t, out);
    all_.insert(all_.end(), out.begin(), out.end());
    return out;
  }

  Rule& rule() { return *rule_; }
  const std::vector<Event>& all() const { return all_; }
  uint64_t frames() const { return next_frame_; }

 private:
  CameraSpec camera_;
  std::unique_ptr<Rule> rule_;
  uint64_t next_frame_ = 0;
  std::map<uint64_t, double> last_seen_;
  std::vector<Event> all_;
};

// A confirmed track whose box's bottom centre (the anchor) is `at`.
Track At(uint64_t id, Point at, std::string label = "person", float score = 0.8F) {
  Track t;
  t.id = id;
  t.label = std::move(label);
  t.box = {at.x - 10, at.y - 40, at.x + 10, at.y};
  t.score = score;
  t.confirmed = true;
  t.hits = 5;
  return t;
}
Track Lost(Track t) {
  t.lost = true;
  return t;
}
Track Unconfirmed(Track t) {
  t.confirmed = false;
  return t;
}

std::string Phases(const std::vector<Event>& events) {
  std::string s;
  for (const Event& e : events) {
    if (!s.empty()) s += " ";
    s += e.phase == EventPhase::kNew ? "new" : e.phase == EventPhase::kUpdate ? "update" : "end";
    s += ":" + std::to_string(e.track_id);
  }
  return s;
}

const Point kIn{200, 200};
const Point kOut{500, 500};

json ZoneRule(int inertia = 3) {
  return {{"id", "in-door"}, {"block", "zone_intrusion"}, {"input", "trk"},
          {"zone", "door"},  {"classes", {"person"}},     {"inertia", inertia}};
}

TEST(ZoneIntrusionRuleTest, InertiaDelaysEntryAndExit) {
  Script s(ZoneRule(3));
  EXPECT_TRUE(s.Step(0.0, {At(1, kOut)}).empty());
  EXPECT_TRUE(s.Step(0.1, {At(1, kIn)}).empty());
  EXPECT_TRUE(s.Step(0.2, {At(1, kIn)}).empty());
  auto ev = s.Step(0.3, {At(1, kIn)});
  ASSERT_EQ(Phases(ev), "new:1");
  EXPECT_EQ(ev[0].id, "cam:in-door:1");
  EXPECT_EQ(ev[0].camera, "cam");
  EXPECT_EQ(ev[0].group, "north");
  EXPECT_EQ(ev[0].rule, "in-door");
  EXPECT_EQ(ev[0].type, "intrusion");
  EXPECT_EQ(ev[0].object, "person");
  EXPECT_EQ(ev[0].zone, "door");
  EXPECT_DOUBLE_EQ(ev[0].start, 0.1);  // the first frame of the inside run
  EXPECT_FALSE(ev[0].end.has_value());
  EXPECT_EQ(ev[0].snapshot_frame, 3u);
  EXPECT_EQ(ev[0].provenance.node, "node-3");
  EXPECT_EQ(ev[0].detail, "{}");
  // Two frames out, then back in: the exit inertia restarts.
  EXPECT_TRUE(s.Step(0.4, {At(1, kOut)}).empty());
  EXPECT_TRUE(s.Step(0.5, {At(1, kOut)}).empty());
  EXPECT_TRUE(s.Step(0.6, {At(1, kIn)}).empty());
  EXPECT_TRUE(s.Step(0.7, {At(1, kOut)}).empty());
  EXPECT_TRUE(s.Step(0.8, {At(1, kOut)}).empty());
  ev = s.Step(0.9, {At(1, kOut)});
  ASSERT_EQ(Phases(ev), "end:1");
  EXPECT_EQ(ev[0].id, "cam:in-door:1");
  EXPECT_DOUBLE_EQ(*ev[0].end, 0.7);
  EXPECT_EQ(s.rule().open_events(), 0u);
  // A new visit is a new event.
  s.Step(1.0, {At(1, kIn)});
  s.Step(1.1, {At(1, kIn)});
  ev = s.Step(1.2, {At(1, kIn)});
  ASSERT_EQ(Phases(ev), "new:1");
  EXPECT_EQ(ev[0].id, "cam:in-door:2");
}

TEST(ZoneIntrusionRuleTest, OnlyConfirmedTracksOfItsClasses) {
  Script s(ZoneRule(1));
  EXPECT_TRUE(s.Step(0.0, {Unconfirmed(At(1, kIn)), At(2, kIn, "car")}).empty());
  auto ev = s.Step(0.1, {At(1, kIn), At(2, kIn, "car")});
  EXPECT_EQ(Phases(ev), "new:1");
}

TEST(ZoneIntrusionRuleTest, LostFramesHoldAndTheTrackEndingEndsTheEvent) {
  Script s(ZoneRule(1));
  ASSERT_EQ(Phases(s.Step(1.0, {At(7, kIn)})), "new:7");
  // Occluded: the tracker predicts it outside; the rule waits.
  EXPECT_TRUE(s.Step(1.1, {Lost(At(7, kOut))}).empty());
  EXPECT_TRUE(s.Step(1.2, {Lost(At(7, kOut))}).empty());
  // Dropped by the tracker: the event ends when it was last seen.
  auto ev = s.Step(1.3, {});
  ASSERT_EQ(Phases(ev), "end:7");
  EXPECT_DOUBLE_EQ(*ev[0].end, 1.0);
}

TEST(ZoneIntrusionRuleTest, UpdatesOnBetterSnapshotsAtMostOncePerSecond) {
  Script s(ZoneRule(1));
  ASSERT_EQ(Phases(s.Step(0.0, {At(1, kIn, "person", 0.5F)})), "new:1");
  // Better by 0.02: not material.
  EXPECT_TRUE(s.Step(1.0, {At(1, kIn, "person", 0.52F)}).empty());
  // Better by 0.1 at 1.5 s: sent at once (the last copy is 1.5 s old).
  auto ev = s.Step(1.5, {At(1, kIn, "person", 0.6F)});
  ASSERT_EQ(Phases(ev), "update:1");
  EXPECT_FLOAT_EQ(ev[0].snapshot_score, 0.6F);
  EXPECT_EQ(ev[0].snapshot_frame, 2u);
  // Better again 0.2 s later: held until a second has passed.
  EXPECT_TRUE(s.Step(1.7, {At(1, kIn, "person", 0.9F)}).empty());
  EXPECT_TRUE(s.Step(2.0, {At(1, kIn, "person", 0.3F)}).empty());
  ev = s.Step(2.5, {At(1, kIn, "person", 0.3F)});
  ASSERT_EQ(Phases(ev), "update:1");
  EXPECT_FLOAT_EQ(ev[0].snapshot_score, 0.9F);
  EXPECT_EQ(ev[0].snapshot_frame, 3u);  // the 0.9 frame, not the latest
  EXPECT_EQ(ev[0].provenance.node, "node-3");
  // A lost track's predicted box never becomes the snapshot.
  EXPECT_TRUE(s.Step(4.0, {Lost(At(1, kIn, "person", 0.99F))}).empty());
  // The colour, once known, is a material change.
  RuleInputs extra;
  extra.colours[1] = "red";
  ev = s.Step(4.1, {At(1, kIn, "person", 0.3F)}, extra);
  ASSERT_EQ(Phases(ev), "update:1");
  EXPECT_EQ(ev[0].colour, "red");
}

TEST(ZoneIntrusionRuleTest, FinishEndsOpenEvents) {
  Script s(ZoneRule(1));
  s.Step(0.0, {At(1, kIn), At(2, kIn), At(3, kOut)});
  EXPECT_EQ(s.rule().open_events(), 2u);
  auto ev = s.Finish(5.0);
  ASSERT_EQ(Phases(ev), "end:1 end:2");
  EXPECT_DOUBLE_EQ(*ev[0].end, 5.0);
  EXPECT_EQ(s.rule().open_events(), 0u);
  EXPECT_TRUE(s.Finish(6.0).empty());
}

TEST(ZoneIntrusionRuleTest, CameraFromInputsOverridesTheSpec) {
  Script s(ZoneRule(1));
  RuleInputs extra;
  extra.camera = "gate-9";
  extra.group = "south";
  auto ev = s.Step(0.0, {At(1, kIn)}, extra);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].id, "gate-9:in-door:1");
  EXPECT_EQ(ev[0].group, "south");
}

json LoiterRule() {
  return {{"id", "loiter"},
          {"block", "loitering"},
          {"input", "trk"},
          {"zone", "door"},
          {"seconds", 10}};
}

TEST(LoiteringRuleTest, RaisesAfterSecondsInTheZoneAndEndsOnLeaving) {
  Script s(LoiterRule());
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(s.Step(i, {At(1, kIn)}).empty()) << i;
  auto ev = s.Step(10, {At(1, kIn)});
  ASSERT_EQ(Phases(ev), "new:1");
  EXPECT_EQ(ev[0].type, "loitering");
  EXPECT_DOUBLE_EQ(ev[0].start, 0);
  EXPECT_EQ(json::parse(ev[0].detail)["seconds"], 10.0);
  ev = s.Step(11, {At(1, kOut)});
  ASSERT_EQ(Phases(ev), "end:1");
  EXPECT_DOUBLE_EQ(*ev[0].end, 11);
}

TEST(LoiteringRuleTest, UsesCameraTimeAcrossFrameGaps) {
  Script s(LoiterRule());
  EXPECT_TRUE(s.Step(0, {At(1, kIn)}).empty());
  // Two frames, 12 s apart (a stalled source): 12 s in the zone.
  auto ev = s.Step(12, {At(1, kIn)});
  ASSERT_EQ(Phases(ev), "new:1");
  EXPECT_DOUBLE_EQ(ev[0].start, 0);
  // Many frames in a short time do not make a long stay.
  Script fast(LoiterRule());
  for (int i = 0; i < 200; ++i) EXPECT_TRUE(fast.Step(i * 0.04, {At(1, kIn)}).empty());
}

TEST(LoiteringRuleTest, LeavingResetsTheClock) {
  Script s(LoiterRule());
  s.Step(0, {At(1, kIn)});
  s.Step(8, {At(1, kIn)});
  s.Step(9, {At(1, kOut)});
  EXPECT_TRUE(s.Step(10, {At(1, kIn)}).empty());
  EXPECT_TRUE(s.Step(19, {At(1, kIn)}).empty());
  auto ev = s.Step(20, {At(1, kIn)});
  ASSERT_EQ(Phases(ev), "new:1");
  EXPECT_DOUBLE_EQ(ev[0].start, 10);
}

json CrossRule(const std::string& line = "entry", float hysteresis = 8) {
  return {{"id", "cross"}, {"block", "line_crossing"}, {"input", "trk"},
          {"line", line},  {"classes", {"person"}},    {"hysteresis_px", hysteresis}};
}

uint64_t Counter(const Rule& rule, const std::string& name) {
  for (const RuleCounter& c : rule.Counters()) {
    if (c.name == name) return c.value;
  }
  ADD_FAILURE() << "no counter " << name;
  return 0;
}

TEST(LineCrossingRuleTest, ForwardIsLeftToRightOfFromTo) {
  // entry runs (0,200) -> (400,200): left is above on screen, so walking down
  // the image crosses forward.
  Script s(CrossRule());
  EXPECT_TRUE(s.Step(0.0, {At(1, {200, 150})}).empty());
  auto ev = s.Step(0.1, {At(1, {200, 250})});
  ASSERT_EQ(Phases(ev), "new:1 end:1");
  EXPECT_EQ(ev[0].id, ev[1].id);
  EXPECT_EQ(ev[0].type, "line_crossing");
  EXPECT_EQ(ev[0].zone, "entry");
  EXPECT_EQ(ev[0].direction, "forward");
  EXPECT_DOUBLE_EQ(ev[0].start, 0.1);
  EXPECT_DOUBLE_EQ(ev[1].start, 0.1);
  EXPECT_DOUBLE_EQ(*ev[1].end, 0.1);
  EXPECT_EQ(json::parse(ev[0].detail)["direction"], "forward");
  EXPECT_EQ(Counter(s.rule(), "forward"), 1u);
  EXPECT_EQ(Counter(s.rule(), "backward"), 0u);
  EXPECT_EQ(s.rule().open_events(), 0u);

  // The same walk over the reversed line is backward.
  Script r(CrossRule("back"));
  r.Step(0.0, {At(1, {200, 150})});
  ev = r.Step(0.1, {At(1, {200, 250})});
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].direction, "backward");
}

TEST(LineCrossingRuleTest, JitterAtTheLineNeverCounts) {
  Script s(CrossRule("entry", 8));
  s.Step(0.0, {At(1, {200, 190})});  // 10 px above: left side taken
  double t = 0.1;
  for (float y : {198.F, 203.F, 197.F, 206.F, 199.F, 201.F, 195.F, 207.F}) {
    EXPECT_TRUE(s.Step(t, {At(1, {200, y})}).empty()) << y;
    t += 0.1;
  }
  EXPECT_EQ(Counter(s.rule(), "forward"), 0u);
  // 8 px past the line: now it counts, once.
  auto ev = s.Step(t, {At(1, {200, 208})});
  ASSERT_EQ(Phases(ev), "new:1 end:1");
  for (float y : {203.F, 197.F, 204.F, 196.F, 210.F, 230.F}) {
    t += 0.1;
    EXPECT_TRUE(s.Step(t, {At(1, {200, y})}).empty()) << y;
  }
  EXPECT_EQ(Counter(s.rule(), "forward"), 1u);
  EXPECT_EQ(Counter(s.rule(), "backward"), 0u);
}

TEST(LineCrossingRuleTest, BothDirectionsCountSeparatelyOncePerTrack) {
  Script s(CrossRule());
  s.Step(0, {At(1, {100, 150}), At(2, {300, 250})});
  auto ev = s.Step(1, {At(1, {100, 250}), At(2, {300, 150})});
  ASSERT_EQ(Phases(ev), "new:1 end:1 new:2 end:2");
  EXPECT_EQ(ev[0].direction, "forward");
  EXPECT_EQ(ev[2].direction, "backward");
  // Track 1 goes back (backward, counted) and forward again (already counted).
  ev = s.Step(2, {At(1, {100, 150}), At(2, {300, 150})});
  ASSERT_EQ(Phases(ev), "new:1 end:1");
  EXPECT_EQ(ev[0].direction, "backward");
  EXPECT_TRUE(s.Step(3, {At(1, {100, 250}), At(2, {300, 150})}).empty());
  EXPECT_EQ(Counter(s.rule(), "forward"), 1u);
  EXPECT_EQ(Counter(s.rule(), "backward"), 2u);
  // Event ids are distinct, in order.
  std::vector<std::string> ids;
  for (const Event& e : s.all()) {
    if (e.phase == EventPhase::kNew) ids.push_back(e.id);
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"cam:cross:1", "cam:cross:2", "cam:cross:3"}));
}

TEST(LineCrossingRuleTest, CrossingOutsideTheSegmentDoesNotCount) {
  Script s(CrossRule());
  s.Step(0, {At(1, {500, 150})});  // beyond the segment's end (x 0..400)
  EXPECT_TRUE(s.Step(1, {At(1, {500, 250})}).empty());
  // Walking back in above the line and crossing within it counts.
  s.Step(2, {At(1, {500, 150})});
  s.Step(3, {At(1, {390, 150})});
  EXPECT_EQ(Phases(s.Step(4, {At(1, {390, 250})})), "new:1 end:1");
  EXPECT_EQ(Counter(s.rule(), "forward"), 1u);
  EXPECT_EQ(Counter(s.rule(), "backward"), 0u);
}

TEST(LineCrossingRuleTest, FrameGapsAndOcclusion) {
  Script s(CrossRule());
  // A jump across the line between two frames 5 s apart still counts.
  s.Step(0, {At(1, {200, 100}), At(2, {250, 120})});
  // Track 2 is hidden behind track 1 while it crosses: lost frames are skipped,
  // and the crossing counts when it is matched again on the other side.
  s.Step(0.1, {At(1, {200, 120}), Lost(At(2, {250, 200}))});
  s.Step(0.2, {At(1, {200, 140}), Lost(At(2, {250, 260}))});
  auto ev = s.Step(5.0, {At(1, {200, 290}), At(2, {250, 280})});
  ASSERT_EQ(Phases(ev), "new:1 end:1 new:2 end:2");
  EXPECT_DOUBLE_EQ(ev[0].start, 5.0);
  EXPECT_EQ(ev[2].snapshot_frame, 3u);
  EXPECT_EQ(Counter(s.rule(), "forward"), 2u);
}

TEST(LineCrossingRuleTest, ZeroHysteresisCountsAnySideChange) {
  Script s(CrossRule("entry", 0));
  s.Step(0, {At(1, {200, 199})});
  EXPECT_TRUE(s.Step(1, {At(1, {200, 200})}).empty());  // on the line: no side
  EXPECT_EQ(Phases(s.Step(2, {At(1, {200, 201})})), "new:1 end:1");
}

json CrowdRule() {
  return {{"id", "crowd"},         {"block", "crowding"}, {"input", "trk"}, {"zone", "door"},
          {"classes", {"person"}}, {"count", 3},          {"seconds", 2}};
}

std::vector<Track> People(int n, uint64_t first_id = 1) {
  std::vector<Track> tracks;
  for (int i = 0; i < n; ++i) {
    tracks.push_back(
        At(first_id + static_cast<uint64_t>(i), {120.F + 30.F * static_cast<float>(i), 250}));
  }
  return tracks;
}

TEST(CrowdingRuleTest, CountHeldForSecondsWithUpdatesAndHysteresis) {
  Script s(CrowdRule());
  EXPECT_TRUE(s.Step(0, People(3)).empty());
  EXPECT_TRUE(s.Step(1, People(3)).empty());
  auto ev = s.Step(2, People(3));
  ASSERT_EQ(Phases(ev), "new:0");
  EXPECT_EQ(ev[0].type, "crowding");
  EXPECT_EQ(ev[0].count, 3);
  EXPECT_EQ(ev[0].object, "person");
  EXPECT_DOUBLE_EQ(ev[0].start, 0);
  EXPECT_EQ(ev[0].box, (Rect{110, 210, 190, 250}));
  // A fourth arrives 0.5 s later: the update waits for the second to pass.
  EXPECT_TRUE(s.Step(2.5, People(4)).empty());
  ev = s.Step(3.0, People(4));
  ASSERT_EQ(Phases(ev), "update:0");
  EXPECT_EQ(ev[0].count, 4);
  EXPECT_EQ(ev[0].snapshot_frame, 3u);
  // Two leave at 4 s: a count change (sent), and the event ends after 1 s
  // (seconds/2) below, at 4 s.
  ev = s.Step(4.0, People(2));
  ASSERT_EQ(Phases(ev), "update:0");
  EXPECT_EQ(ev[0].count, 2);
  EXPECT_TRUE(s.Step(4.5, People(2)).empty());
  ev = s.Step(5.0, People(2));
  ASSERT_EQ(Phases(ev), "end:0");
  EXPECT_DOUBLE_EQ(*ev[0].end, 4.0);
  EXPECT_EQ(ev[0].count, 2);
  EXPECT_EQ(ev[0].snapshot_frame, 3u);  // the frame with the most people
}

TEST(CrowdingRuleTest, BriefDipsDoNotEndAndOcclusionKeepsTheCount) {
  Script s(CrowdRule());
  s.Step(0, People(3));
  ASSERT_EQ(Phases(s.Step(2, People(3))), "new:0");
  // One steps out for 0.5 s (< seconds/2) and back: the event goes on, with
  // the counts as updates (the second within the interval waits for it).
  ASSERT_EQ(Phases(s.Step(3.0, People(2))), "update:0");
  EXPECT_TRUE(s.Step(3.5, People(3)).empty());
  // One is hidden behind another (lost): still counted.
  std::vector<Track> hidden = People(3);
  hidden[1] = Lost(hidden[1]);
  auto ev = s.Step(5.0, hidden);
  ASSERT_EQ(Phases(ev), "update:0");
  EXPECT_EQ(ev[0].count, 3);
  EXPECT_TRUE(s.Step(6.0, hidden).empty());
  EXPECT_EQ(s.rule().open_events(), 1u);
  ASSERT_EQ(Phases(s.Finish(7.0)), "end:0");
}

TEST(CrowdingRuleTest, ShortCrowdsRaiseNothing) {
  Script s(CrowdRule());
  s.Step(0, People(3));
  s.Step(1.9, People(3));
  s.Step(2.0, People(2));
  EXPECT_TRUE(s.Step(3.0, People(3)).empty());
  EXPECT_TRUE(s.Step(4.9, People(3)).empty());
  EXPECT_EQ(Phases(s.Step(5.0, People(3))), "new:0");
}

json BagRule() {
  return {
      {"id", "bag"},   {"block", "abandoned_object"}, {"input", "trk"}, {"classes", {"suitcase"}},
      {"seconds", 10}, {"person_distance_px", 150},   {"still_px", 10}};
}

Track Bag(Point at = {600, 400}) { return At(9, at, "suitcase", 0.7F); }

TEST(AbandonedObjectRuleTest, LeftAloneAndStillForSeconds) {
  Script s(BagRule());
  // Carried in and put down next to its owner.
  for (int i = 0; i <= 3; ++i) EXPECT_TRUE(s.Step(i, {Bag(), At(1, {620, 420})}).empty());
  // The owner walks away at 4 s; the bag jitters a few pixels.
  for (int i = 4; i < 14; ++i) {
    EXPECT_TRUE(
        s.Step(i, {Bag({600.F + static_cast<float>(i % 3), 400}), At(1, {900, 400})}).empty())
        << i;
  }
  auto ev = s.Step(14, {Bag(), At(1, {900, 400})});
  ASSERT_EQ(Phases(ev), "new:9");
  EXPECT_EQ(ev[0].type, "abandoned");
  EXPECT_EQ(ev[0].object, "suitcase");
  EXPECT_DOUBLE_EQ(ev[0].start, 4);
  // The owner comes back: the event ends.
  ev = s.Step(20, {Bag(), At(1, {650, 430})});
  ASSERT_EQ(Phases(ev), "end:9");
  EXPECT_DOUBLE_EQ(*ev[0].end, 20);
}

TEST(AbandonedObjectRuleTest, MovingOrGoingEndsAndAPersonInFrontCounts) {
  Script s(BagRule());
  s.Step(0, {Bag()});
  ASSERT_EQ(Phases(s.Step(10, {Bag()})), "new:9");
  // Picked up: it moves more than still_px.
  ASSERT_EQ(Phases(s.Step(11, {Bag({640, 400})})), "end:9");
  // Put down again; 10 s later a new event, then the track ends.
  ASSERT_EQ(Phases(s.Step(21, {Bag({640, 400})})), "new:9");
  auto ev = s.Step(22, {});
  ASSERT_EQ(Phases(ev), "end:9");
  EXPECT_DOUBLE_EQ(*ev[0].end, 21);

  // A person standing in front of a bag hides it (the bag's track is lost) and
  // is still with it: the clock starts only once they walk away.
  Script t(BagRule());
  t.Step(0, {Bag()});
  for (int i = 1; i <= 8; ++i) t.Step(i, {Lost(Bag()), At(1, {605, 420})});
  for (int i = 9; i < 19; ++i) EXPECT_TRUE(t.Step(i, {Bag(), At(1, {1000, 420})}).empty()) << i;
  auto left = t.Step(19, {Bag(), At(1, {1000, 420})});
  ASSERT_EQ(Phases(left), "new:9");
  EXPECT_DOUBLE_EQ(left[0].start, 9);
}

json ParkRule() {
  return {{"id", "park"},       {"block", "parking"}, {"input", "trk"}, {"zone", "door"},
          {"classes", {"car"}}, {"seconds", 10},      {"still_px", 10}};
}

TEST(ParkingRuleTest, StillInTheZoneForSeconds) {
  Script s(ParkRule());
  // Drives in, stops at 2 s.
  s.Step(0, {At(4, {50, 250}, "car")});
  s.Step(1, {At(4, {150, 250}, "car")});
  for (int i = 2; i < 12; ++i) {
    EXPECT_TRUE(s.Step(i, {At(4, {200.F + static_cast<float>(i % 2) * 3, 250}, "car")}).empty())
        << i;
  }
  auto ev = s.Step(12, {At(4, {200, 250}, "car")});
  ASSERT_EQ(Phases(ev), "new:4");
  EXPECT_EQ(ev[0].type, "parking");
  EXPECT_EQ(ev[0].zone, "door");
  EXPECT_DOUBLE_EQ(ev[0].start, 2);
  ev = s.Step(13, {At(4, {260, 250}, "car")});
  ASSERT_EQ(Phases(ev), "end:4");
  EXPECT_DOUBLE_EQ(*ev[0].end, 13);
}

TEST(ParkingRuleTest, StillOutsideTheZoneOrOtherClassesIsNotParking) {
  Script s(ParkRule());
  for (int i = 0; i < 30; ++i) {
    EXPECT_TRUE(s.Step(i, {At(4, kOut, "car"), At(5, kIn, "person")}).empty());
  }
}

Keypoint Kp(std::string name, float x, float y, float score = 0.9F) {
  return {std::move(name), {x, y}, score};
}

// Standing at x=200: shoulders y=100, hips 160, ankles 250.
std::vector<Keypoint> Upright() {
  return {Kp("left_shoulder", 190, 100), Kp("right_shoulder", 210, 100),
          Kp("left_hip", 193, 160),      Kp("right_hip", 207, 160),
          Kp("left_ankle", 195, 250),    Kp("right_ankle", 205, 250)};
}
// Lying along y=245.
std::vector<Keypoint> Lying() {
  return {Kp("left_shoulder", 100, 238), Kp("right_shoulder", 100, 250),
          Kp("left_hip", 160, 240),      Kp("right_hip", 160, 250),
          Kp("left_ankle", 250, 242),    Kp("right_ankle", 250, 252)};
}
Track Standing() {
  Track t = At(3, {200, 260});
  t.box = {170, 80, 230, 260};
  return t;
}
Track Down() {
  Track t = At(3, {170, 260});
  t.box = {80, 220, 260, 260};
  return t;
}

RuleInputs Pose(const std::vector<Keypoint>& kp, uint64_t id = 3) {
  RuleInputs extra;
  extra.keypoints[id] = kp;
  return extra;
}

TEST(FallRuleTest, ReadsTorsoAngleAndFlatBoxes) {
  EXPECT_EQ(internal::ReadsFallen(Upright(), Standing().box), false);
  EXPECT_EQ(internal::ReadsFallen(Lying(), Down().box), true);
  // Torso tilted 45 degrees: upright enough.
  EXPECT_EQ(internal::ReadsFallen({Kp("left_shoulder", 240, 100), Kp("left_hip", 200, 140)},
                                  Standing().box),
            false);
  // Tilted 70 degrees: fallen.
  EXPECT_EQ(internal::ReadsFallen({Kp("left_shoulder", 300, 124), Kp("left_hip", 200, 160)},
                                  Standing().box),
            true);
  // No shoulders, a flat box with hips level with the ankles: fallen.
  EXPECT_EQ(
      internal::ReadsFallen({Kp("left_hip", 160, 245), Kp("left_ankle", 250, 247)}, Down().box),
      true);
  // Unsure keypoints tell nothing.
  std::vector<Keypoint> faint = Lying();
  for (Keypoint& k : faint) k.score = 0.1F;
  EXPECT_EQ(internal::ReadsFallen(faint, Down().box), std::nullopt);
  EXPECT_EQ(internal::ReadsFallen({Kp("nose", 1, 1)}, Down().box), std::nullopt);
}

TEST(FallRuleTest, SustainedFallRaisesAndRecoveryEnds) {
  Script s(json{{"id", "fall"}, {"block", "fall"}, {"input", "pose"}});
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(s.Step(i * 0.1, {Standing()}, Pose(Upright())).empty());
  for (int i = 10; i < 15; ++i) EXPECT_TRUE(s.Step(i * 0.1, {Down()}, Pose(Lying())).empty()) << i;
  auto ev = s.Step(1.5, {Down()}, Pose(Lying()));
  ASSERT_EQ(Phases(ev), "new:3");
  EXPECT_EQ(ev[0].type, "fall");
  EXPECT_DOUBLE_EQ(ev[0].start, 1.0);
  // Frames without a pose change nothing.
  EXPECT_TRUE(s.Step(2.0, {Down()}).empty());
  // Up again at 3 s; ends after 1 s upright, at 3 s.
  for (int i = 30; i < 40; ++i)
    EXPECT_TRUE(s.Step(i * 0.1, {Standing()}, Pose(Upright())).empty()) << i;
  ev = s.Step(4.0, {Standing()}, Pose(Upright()));
  ASSERT_EQ(Phases(ev), "end:3");
  EXPECT_DOUBLE_EQ(*ev[0].end, 3.0);
}

TEST(FallRuleTest, OneFallenFrameIsNotAFallButTwoAcrossAGapAre) {
  Script s(json{{"id", "fall"}, {"block", "fall"}, {"input", "pose"}});
  s.Step(0.0, {Standing()}, Pose(Upright()));
  EXPECT_TRUE(s.Step(1.0, {Down()}, Pose(Lying())).empty());
  EXPECT_TRUE(s.Step(2.0, {Standing()}, Pose(Upright())).empty());
  // Lying at 3 s and, after a 2 s gap with no frames, still lying at 5 s.
  EXPECT_TRUE(s.Step(3.0, {Down()}, Pose(Lying())).empty());
  auto ev = s.Step(5.0, {Down()}, Pose(Lying()));
  ASSERT_EQ(Phases(ev), "new:3");
  EXPECT_DOUBLE_EQ(ev[0].start, 3.0);
  // The person's track ends while down: the event ends when last seen.
  ev = s.Step(6.0, {});
  ASSERT_EQ(Phases(ev), "end:3");
  EXPECT_DOUBLE_EQ(*ev[0].end, 5.0);
}

json PlateRule() {
  return {{"id", "plate"},
          {"block", "licence_plate"},
          {"input", "ocr"},
          {"pattern", "^[A-Z0-9]{5,8}$"},
          {"known", {"AB123CD", "ZZ999ZZ"}},
          {"max_distance", 1}};
}

RuleInputs Read(uint64_t id, std::string text, float confidence = 0.9F) {
  RuleInputs extra;
  extra.texts[id].push_back({std::move(text), confidence});
  return extra;
}

TEST(LicencePlateRuleTest, OneEventWithTheBestReadingWhenTheTrackEnds) {
  Script s(PlateRule());
  Track car = At(5, {200, 250}, "car", 0.6F);
  s.Step(0.0, {car});  // no reading yet
  EXPECT_TRUE(s.Step(0.5, {car}, Read(5, "AB 123-CD")).empty());
  Track better = car;
  better.score = 0.95F;
  RuleInputs extra = Read(5, "A8123CD", 0.5F);
  extra.colours[5] = "blue";
  EXPECT_TRUE(s.Step(0.6, {better}, extra).empty());
  EXPECT_TRUE(s.Step(0.7, {car}, Read(5, "AB123CD")).empty());
  EXPECT_TRUE(s.Step(0.8, {car}, Read(5, "??")).empty());  // does not match the pattern
  auto ev = s.Step(1.5, {});
  ASSERT_EQ(Phases(ev), "new:5 end:5");
  EXPECT_EQ(ev[0].type, "licence_plate");
  EXPECT_EQ(ev[0].text, "AB123CD");
  EXPECT_EQ(ev[0].object, "car");
  EXPECT_EQ(ev[0].colour, "blue");
  EXPECT_DOUBLE_EQ(ev[0].start, 0.5);
  EXPECT_DOUBLE_EQ(*ev[1].end, 0.8);
  EXPECT_EQ(ev[0].snapshot_frame, 2u);
  EXPECT_FLOAT_EQ(ev[0].snapshot_score, 0.95F);
  const json detail = json::parse(ev[0].detail);
  EXPECT_EQ(detail["known"], "AB123CD");
  EXPECT_EQ(detail["distance"], 0);
  EXPECT_EQ(detail["votes"], 2);
}

TEST(LicencePlateRuleTest, UnknownPlatesAndFinish) {
  Script s(PlateRule());
  s.Step(0.0, {At(5, {200, 250}, "car")}, Read(5, "QQ555QQ"));
  s.Step(0.1, {At(6, {300, 250}, "car"), At(5, {200, 250}, "car")}, Read(6, "!!"));
  auto ev = s.Finish(3.0);
  // Track 6 never had a reading matching the pattern: no event for it.
  ASSERT_EQ(Phases(ev), "new:5 end:5");
  EXPECT_EQ(ev[0].text, "QQ555QQ");
  EXPECT_FALSE(json::parse(ev[0].detail).contains("known"));
  EXPECT_DOUBLE_EQ(*ev[1].end, 0.1);
  EXPECT_TRUE(s.Finish(4.0).empty());
}

TEST(MakeRuleTest, RefusesBlocksThatAreNotRules) {
  const CameraSpec camera = Camera(ZoneRule());
  auto r = MakeRule(camera, *camera.FindBlock("trk"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "camera \"cam\": block \"trk\": is not a rule");
  CameraSpec no_zone = camera;
  no_zone.zones.clear();
  r = MakeRule(no_zone, no_zone.blocks.back());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "camera \"cam\": block \"in-door\": no zone named \"door\" on this camera");
}

}  // namespace
}  // namespace heteroaccel::pipeline

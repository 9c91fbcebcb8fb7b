#include "pipeline/tracking/tracker.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <set>

#include "pipeline/tracking/mot_metrics.h"
#include "pipeline/tracking/testing/synthetic_tracks.h"

namespace heteroaccel::pipeline {
namespace {

using testing::RenderScene;
using testing::SceneOptions;

std::unique_ptr<Tracker> MakeTracker(const TrackerOptions& options = {}) {
  auto t = Tracker::Create(options);
  EXPECT_TRUE(t.ok()) << t.status();
  return std::move(t).value();
}

Detection Det(float x, float y, float score = 0.9f, std::string label = "person") {
  return Detection{.box = Rect{x, y, x + 40, y + 80}, .score = score, .label = std::move(label)};
}

FrameResult Frame(uint64_t index, std::vector<Detection> dets, double fps = 10) {
  return FrameResult{.frame_index = index,
                     .time = index / fps,
                     .width = 768,
                     .height = 576,
                     .detections = std::move(dets)};
}

const Track* Find(const std::vector<Track>& tracks, uint64_t id) {
  for (const Track& t : tracks) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

TEST(TrackerTest, RejectsOutOfRangeOptions) {
  const auto check = [](TrackerOptions o, const std::string& key) {
    auto t = Tracker::Create(o);
    ASSERT_FALSE(t.ok()) << key;
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(t.status().message().find(key), std::string::npos) << t.status();
  };
  check({.min_hits = 0}, "min_hits");
  check({.max_lost = -1}, "max_lost");
  check({.iou = 0}, "iou");
  check({.iou = 1.5f}, "iou");
  check({.iou = NAN}, "iou");
  check({.high_score = 0.5f, .low_score = 0.6f}, "low_score");
  check({.max_lost_seconds = 0.0}, "max_lost_seconds");
  EXPECT_TRUE(Tracker::Create({.min_hits = 1, .max_lost = 0, .iou = 1}).ok());
}

TEST(TrackerTest, ConfirmsAfterMinHitsAndKeepsTheId) {
  auto tracker = MakeTracker({.min_hits = 3});
  uint64_t id = 0;
  for (uint64_t f = 0; f < 10; ++f) {
    const auto tracks = tracker->Update(Frame(f, {Det(100 + 5.0f * f, 200)}));
    ASSERT_EQ(tracks.size(), 1u) << "frame " << f;
    if (f == 0) id = tracks[0].id;
    EXPECT_EQ(tracks[0].id, id);
    EXPECT_EQ(tracks[0].confirmed, f >= 2) << "frame " << f;
    EXPECT_EQ(tracks[0].hits, static_cast<int>(f + 1));
    EXPECT_EQ(tracks[0].detection, std::optional<size_t>(0));
    EXPECT_DOUBLE_EQ(tracks[0].first_seen, 0.0);
    EXPECT_DOUBLE_EQ(tracks[0].last_seen, f / 10.0);
    EXPECT_GT(IoU(tracks[0].box, Det(100 + 5.0f * f, 200).box), 0.9f);
  }
}

TEST(TrackerTest, TentativeTrackThatMissesIsDropped) {
  auto tracker = MakeTracker({.min_hits = 3});
  EXPECT_EQ(tracker->Update(Frame(0, {Det(100, 100)})).size(), 1u);
  EXPECT_TRUE(tracker->Update(Frame(1, {})).empty());
}

TEST(TrackerTest, LostTrackIsKeptMaxLostFramesThenRemovedAndItsIdNeverReused) {
  auto tracker = MakeTracker({.min_hits = 1, .max_lost = 5});
  const uint64_t id = tracker->Update(Frame(0, {Det(100, 100)}))[0].id;
  tracker->Update(Frame(1, {Det(104, 100)}));
  for (uint64_t f = 2; f <= 6; ++f) {
    const auto tracks = tracker->Update(Frame(f, {}));
    ASSERT_EQ(tracks.size(), 1u) << "frame " << f;
    EXPECT_TRUE(tracks[0].lost);
    EXPECT_FALSE(tracks[0].detection.has_value());
    // Predicted boxes keep moving at the track's velocity.
    EXPECT_GT(tracks[0].box.x1, 104.0f);
  }
  EXPECT_TRUE(tracker->Update(Frame(7, {})).empty());  // lost a 6th frame: gone
  const auto again = tracker->Update(Frame(8, {Det(100, 100)}));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_GT(again[0].id, id);
}

TEST(TrackerTest, LostTrackResumesWithItsId) {
  auto tracker = MakeTracker({.min_hits = 1, .max_lost = 30});
  uint64_t id = 0;
  for (uint64_t f = 0; f < 5; ++f) id = tracker->Update(Frame(f, {Det(100 + 5.0f * f, 100)}))[0].id;
  for (uint64_t f = 5; f < 8; ++f) tracker->Update(Frame(f, {}));
  const auto tracks = tracker->Update(Frame(8, {Det(140, 100)}));
  ASSERT_EQ(tracks.size(), 1u);
  EXPECT_EQ(tracks[0].id, id);
  EXPECT_FALSE(tracks[0].lost);
}

TEST(TrackerTest, MaxLostSecondsRemovesEarlier) {
  auto tracker = MakeTracker({.min_hits = 1, .max_lost = 100, .max_lost_seconds = 0.25});
  tracker->Update(Frame(0, {Det(100, 100)}));
  EXPECT_EQ(tracker->Update(Frame(2, {})).size(), 1u);  // 0.2 s
  EXPECT_TRUE(tracker->Update(Frame(3, {})).empty());   // 0.3 s
}

TEST(TrackerTest, ConstantVelocityTrackSurvivesATenFrameGap) {
  // 15 px per frame: after 10 missing frames the object is 150 px (almost four widths)
  // from where it was; a one-frame prediction would not overlap it at all.
  auto tracker = MakeTracker({.min_hits = 3, .max_lost = 5});
  uint64_t id = 0;
  for (uint64_t f = 0; f < 8; ++f) {
    id = tracker->Update(Frame(f, {Det(50 + 15.0f * f, 200)}))[0].id;
  }
  // Frames 8..17 never arrive (the time jumps from 0.7 s to 1.8 s).
  const auto tracks = tracker->Update(Frame(18, {Det(50 + 15.0f * 18, 200)}));
  ASSERT_EQ(tracks.size(), 1u);
  EXPECT_EQ(tracks[0].id, id);
  EXPECT_TRUE(tracks[0].confirmed);
  EXPECT_EQ(tracks[0].detection, std::optional<size_t>(0));
  EXPECT_GT(IoU(tracks[0].box, Det(50 + 15.0f * 18, 200).box), 0.8f);
}

TEST(TrackerTest, LowScoreDetectionsContinueTracksButNeverStartThem) {
  auto tracker = MakeTracker({.min_hits = 1});
  const uint64_t id = tracker->Update(Frame(0, {Det(100, 100, 0.9f)}))[0].id;
  auto tracks = tracker->Update(Frame(1, {Det(103, 100, 0.2f), Det(400, 300, 0.3f)}));
  ASSERT_EQ(tracks.size(), 1u);
  EXPECT_EQ(tracks[0].id, id);
  EXPECT_EQ(tracks[0].detection, std::optional<size_t>(0));
  EXPECT_FALSE(tracks[0].lost);
  // Below low_score the detection does not exist for the tracker.
  tracks = tracker->Update(Frame(2, {Det(106, 100, 0.05f)}));
  ASSERT_EQ(tracks.size(), 1u);
  EXPECT_TRUE(tracks[0].lost);
}

TEST(TrackerTest, SameLabelConstraint) {
  auto tracker = MakeTracker({.min_hits = 1});
  const uint64_t person = tracker->Update(Frame(0, {Det(100, 100)}))[0].id;
  const auto tracks = tracker->Update(Frame(1, {Det(101, 100, 0.9f, "car")}));
  ASSERT_EQ(tracks.size(), 2u);
  EXPECT_TRUE(Find(tracks, person)->lost);
  EXPECT_EQ(tracks[1].label, "car");
  EXPECT_NE(tracks[1].id, person);

  auto any_label = MakeTracker({.min_hits = 1, .same_label = false});
  const uint64_t id = any_label->Update(Frame(0, {Det(100, 100)}))[0].id;
  const auto one = any_label->Update(Frame(1, {Det(101, 100, 0.9f, "car")}));
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].id, id);
}

TEST(TrackerTest, HostileInputIsIgnoredAndBounded) {
  auto tracker = MakeTracker({.min_hits = 1, .max_detections = 100, .max_tracks = 50});
  std::vector<Detection> bad = {
      Detection{.box = Rect{NAN, 0, 10, 10}, .score = 0.9f},
      Detection{.box = Rect{0, 0, INFINITY, 10}, .score = 0.9f},
      Detection{.box = Rect{10, 10, 0, 0}, .score = 0.9f},  // inverted: empty
      Detection{.box = Rect{0, 0, 10, 10}, .score = NAN},
      Detection{.box = Rect{-1e30f, -1e30f, 1e30f, 1e30f}, .score = 0.9f},
  };
  auto tracks = tracker->Update(Frame(0, bad));
  ASSERT_EQ(tracks.size(), 1u);  // only the huge but finite box
  for (const Track& t : tracks) EXPECT_TRUE(std::isfinite(t.box.x1));

  std::vector<Detection> many;
  for (int i = 0; i < 5000; ++i)
    many.push_back(Det(static_cast<float>(i % 700), (i / 700) * 80.0f));
  tracks = tracker->Update(Frame(1, many));
  EXPECT_LE(tracks.size(), 50u);
  // Time going backwards and a repeated frame: no motion, no crash.
  tracks = tracker->Update(FrameResult{.frame_index = 0, .time = -5, .detections = many});
  tracks = tracker->Update(FrameResult{.frame_index = 0, .time = -5});
  EXPECT_LE(tracks.size(), 50u);
  for (const Track& t : tracks) EXPECT_TRUE(std::isfinite(t.box.x1) && std::isfinite(t.box.y2));
}

struct Result {
  MotMetrics metrics;
  std::set<uint64_t> ids;
};

Result RunScene(const std::vector<testing::ScriptedObject>& script,
                const SceneOptions& scene_options, const TrackerOptions& tracker_options = {}) {
  const auto scene = RenderScene(script, scene_options);
  auto tracker = MakeTracker(tracker_options);
  MotAccumulator acc;
  Result r;
  uint64_t max_id = 0;
  for (size_t f = 0; f < scene.frames.size(); ++f) {
    const auto tracks = tracker->Update(scene.frames[f]);
    std::set<uint64_t> seen;
    for (const Track& t : tracks) {
      EXPECT_TRUE(seen.insert(t.id).second) << "id twice in one frame";
      if (!r.ids.contains(t.id)) {
        EXPECT_GT(t.id, max_id) << "id reused";  // new ids only ever grow
        max_id = t.id;
      }
      r.ids.insert(t.id);
    }
    acc.AddFrame(scene.truth[f], testing::Hypotheses(tracks));
  }
  r.metrics = acc.Compute();
  return r;
}

void Print(const char* name, uint64_t seed, const MotMetrics& m) {
  std::printf("%-10s seed %llu: MOTA %.3f IDF1 %.3f MOTP %.3f GT %lld FN %lld FP %lld IDSW %lld\n",
              name, static_cast<unsigned long long>(seed), m.mota, m.idf1, m.motp,
              static_cast<long long>(m.gt), static_cast<long long>(m.fn),
              static_cast<long long>(m.fp), static_cast<long long>(m.id_switches));
}

struct SceneCase {
  const char* name;
  std::vector<testing::ScriptedObject> (*script)(double);
};

const SceneCase kScenes[] = {
    {"linear", testing::LinearScene},       {"turning", testing::TurningScene},
    {"crossing", testing::CrossingScene},   {"stop-go", testing::StopAndGoScene},
    {"occlusion", testing::OcclusionScene}, {"mixed", testing::MixedScene},
};

// Floors under the worst scene and seed measured (6 scenes, 150 frames at 10 fps):
//   clean:  MOTA 0.955..0.987, IDF1 0.977..0.993, no identity switch;
//   noisy (2 px jitter, 10% dropout, 0.2 FP/frame, 5% low scores, 5 seeds):
//           MOTA 0.826..0.933, IDF1 0.850..0.966.
// Most misses are the dropouts themselves: a track is not reported in a frame
// where its object was not detected (lost), which alone costs ~0.1 of MOTA, plus
// the frames a partly hidden object spends as low-score detections while its
// track is lost (ByteTrack matches those only to tracks still live).
constexpr double kCleanMota = 0.95, kCleanIdf1 = 0.97, kNoisyMota = 0.80, kNoisyIdf1 = 0.83;

TEST(TrackerAccuracyTest, CleanDetections) {
  for (const SceneCase& s : kScenes) {
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      const auto r = RunScene(s.script(15), {.frames = 150, .seed = seed});
      Print(s.name, seed, r.metrics);
      EXPECT_GE(r.metrics.mota, kCleanMota) << s.name;
      EXPECT_GE(r.metrics.idf1, kCleanIdf1) << s.name;
      EXPECT_EQ(r.metrics.id_switches, 0) << s.name;
    }
  }
}

TEST(TrackerAccuracyTest, NoisyDetections) {
  for (const SceneCase& s : kScenes) {
    for (uint64_t seed = 1; seed <= 5; ++seed) {
      const auto r = RunScene(s.script(15), {.frames = 150,
                                             .jitter_px = 2,
                                             .dropout = 0.1,
                                             .fp_per_frame = 0.2,
                                             .low_score_p = 0.05,
                                             .seed = seed});
      Print(s.name, seed, r.metrics);
      EXPECT_GE(r.metrics.mota, kNoisyMota) << s.name << " seed " << seed;
      EXPECT_GE(r.metrics.idf1, kNoisyIdf1) << s.name << " seed " << seed;
    }
  }
}

TEST(TrackerAccuracyTest, CrossingPathsKeepIdentities) {
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    const auto r = RunScene(testing::CrossingScene(10),
                            {.frames = 100, .jitter_px = 2, .dropout = 0.1, .seed = seed});
    EXPECT_EQ(r.metrics.id_switches, 0) << "seed " << seed;
    EXPECT_GE(r.metrics.idf1, 0.85) << "seed " << seed;  // worst measured 0.89
  }
}

TEST(TrackerAccuracyTest, OccludedObjectComesBackWithItsId) {
  const auto r = RunScene(testing::OcclusionScene(10), {.frames = 100, .seed = 1});
  EXPECT_EQ(r.metrics.id_switches, 0);
  EXPECT_EQ(r.ids.size(), 2u);
}

TEST(TrackerAccuracyTest, SceneWithGapsKeepsTracks) {
  const auto r =
      RunScene(testing::LinearScene(15),
               {.frames = 150, .gaps = {{40, 50}, {90, 100}}, .jitter_px = 1, .seed = 1});
  EXPECT_EQ(r.metrics.id_switches, 0);
  EXPECT_EQ(r.ids.size(), 4u);
}

}  // namespace
}  // namespace heteroaccel::pipeline

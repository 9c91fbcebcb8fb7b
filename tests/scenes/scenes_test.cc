// The scene generator (ground truth matches what is drawn, determinism, files)
// and the evaluator (matching rules), on the real sprites.
#include <gtest/gtest.h>
#include <unistd.h>

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "pipeline/spec/spec.h"
#include "scenes/evaluate.h"
#include "scenes/scenarios.h"
#include "scenes/scene.h"
#include "testing/subprocess.h"

namespace heteroaccel::scenes {
namespace {

const SpriteLibrary& Sprites() {
  static const SpriteLibrary* lib = [] {
    absl::StatusOr<const SpriteLibrary*> l = SharedSpriteLibrary(testing::ModelsDir());
    EXPECT_TRUE(l.ok()) << l.status();
    return l.ok() ? *l : nullptr;
  }();
  if (lib == nullptr) std::abort();
  return *lib;
}

Scene OneActor(const Sprite& sprite, float x, float y, float h) {
  Scene s;
  s.name = "one";
  s.background = Sprites().background;
  s.duration = 2;
  s.noise_sigma = 0;
  s.actors.push_back({1, sprite, {{0, x, y, h}, {2, x + 100, y, h}}});
  return s;
}

cv::Rect ToCv(const pipeline::Rect& r) {
  return {static_cast<int>(r.x1), static_cast<int>(r.y1), static_cast<int>(r.Width()),
          static_cast<int>(r.Height())};
}

TEST(SpriteLibraryTest, CutsPeopleCarAndCupFromTheTestData) {
  const SpriteLibrary& lib = Sprites();
  EXPECT_EQ(lib.background.size(), cv::Size(768, 576));
  ASSERT_GE(lib.walkers.size(), 7U);
  for (const Sprite& w : lib.walkers) {
    EXPECT_EQ(w.label, "person");
    EXPECT_GT(w.bgr.rows, w.bgr.cols) << w.name << " is upright";
    EXPECT_GT(cv::countNonZero(w.alpha), w.alpha.total() / 3) << w.name;
  }
  EXPECT_EQ(lib.car.label, "car");
  EXPECT_EQ(lib.cup.label, "coffee cup");
}

TEST(SceneTest, GroundTruthBoxIsExactlyWhereTheSpriteIsDrawn) {
  const Scene s = OneActor(Sprites().walkers[0], 300, 400, 160);
  for (int index : {0, 5, 19}) {
    GtFrame gt;
    const cv::Mat frame = RenderFrame(s, index, &gt);
    ASSERT_EQ(gt.boxes.size(), 1U);
    const GtBox& b = gt.boxes[0];
    EXPECT_EQ(b.actor, 1);
    EXPECT_FLOAT_EQ(b.visible, 1);
    EXPECT_NEAR(b.box.Height(), 160, 1);
    EXPECT_NEAR(b.box.BottomCenter().x, 300 + 100 * s.FrameTime(index) / 2, 1.5);
    EXPECT_NEAR(b.box.y2, 400, 1);
    cv::Mat changed;
    cv::absdiff(frame, s.background, changed);
    cv::cvtColor(changed, changed, cv::COLOR_BGR2GRAY);
    const cv::Rect drawn = cv::boundingRect(changed > 0);
    const cv::Rect box = ToCv(b.box);
    // Every changed pixel is inside the box, and the box is tight (the
    // blended edge may be one pixel wider than the opaque pixels).
    EXPECT_EQ(drawn & box, drawn & cv::Rect(box.x - 1, box.y - 1, box.width + 2, box.height + 2));
    EXPECT_LE(std::abs(drawn.x - box.x), 1);
    EXPECT_LE(std::abs(drawn.y - box.y), 1);
    EXPECT_LE(std::abs(drawn.br().x - box.br().x), 1);
    EXPECT_LE(std::abs(drawn.br().y - box.br().y), 1);
  }
}

TEST(SceneTest, ActorsAppearAndDisappearAtTheirFirstAndLastWaypoints) {
  Scene s = OneActor(Sprites().car, 300, 400, 120);
  s.actors[0].path = {{0.5, 100, 400, 120}, {1.0, 200, 400, 120}, {1.5, 200, 400, 120}};
  int seen = 0;
  for (int i = 0; i < s.FrameCount(); ++i) {
    GtFrame gt;
    RenderFrame(s, i, &gt);
    const double t = s.FrameTime(i);
    EXPECT_EQ(gt.boxes.size(), (t >= 0.5 && t <= 1.5) ? 1U : 0U) << t;
    if (!gt.boxes.empty() && t >= 1.0) {
      EXPECT_NEAR(gt.boxes[0].box.BottomCenter().x, 200, 1) << "stands still";
    }
    seen += static_cast<int>(gt.boxes.size());
  }
  EXPECT_EQ(seen, 11);
}

TEST(SceneTest, NearerActorsHideFartherOnes) {
  Scene s = OneActor(Sprites().walkers[1], 300, 400, 160);
  s.actors.push_back({2, Sprites().car, {{0, 310, 450, 120}, {2, 310, 450, 120}}});
  GtFrame gt;
  const cv::Mat frame = RenderFrame(s, 0, &gt);
  ASSERT_EQ(gt.boxes.size(), 2U);
  EXPECT_LT(gt.boxes[0].visible, 0.9F) << "the person is behind the car";
  EXPECT_FLOAT_EQ(gt.boxes[1].visible, 1);
  // The car (opaque rectangle) is drawn over the person: its pixels show.
  const cv::Rect car = ToCv(gt.boxes[1].box);
  cv::Mat car_only = RenderFrame(OneActor(Sprites().car, 310, 450, 120), 0, nullptr);
  (void)car_only;
  EXPECT_EQ(cv::norm(frame(car), s.background(car), cv::NORM_INF) > 0, true);
}

TEST(SceneTest, RenderingIsDeterministicPerSeed) {
  Scene s = OneActor(Sprites().walkers[2], 300, 400, 160);
  s.noise_sigma = 3;
  const cv::Mat a = RenderFrame(s, 7, nullptr);
  RenderFrame(s, 3, nullptr);
  const cv::Mat b = RenderFrame(s, 7, nullptr);
  EXPECT_EQ(cv::norm(a, b, cv::NORM_INF), 0);
  s.seed = 2;
  EXPECT_GT(cv::norm(a, RenderFrame(s, 7, nullptr), cv::NORM_INF), 0);
}

TEST(SceneTest, RendersEveryFrameToAnMjpegFile) {
  const Scenario sc = MakeScenario("crossing_paths", Sprites());
  const std::string path = "/tmp/scenes_test_" + std::to_string(getpid()) + ".avi";
  absl::StatusOr<std::vector<GtFrame>> truth = RenderToFile(sc.scene, path);
  ASSERT_TRUE(truth.ok()) << truth.status();
  EXPECT_EQ(truth->size(), static_cast<size_t>(sc.scene.FrameCount()));
  cv::VideoCapture cap(path, cv::CAP_FFMPEG);
  ASSERT_TRUE(cap.isOpened());
  EXPECT_EQ(static_cast<int>(cap.get(cv::CAP_PROP_FOURCC)),
            cv::VideoWriter::fourcc('M', 'J', 'P', 'G'));
  EXPECT_NEAR(cap.get(cv::CAP_PROP_FPS), sc.scene.fps, 0.01);
  cv::Mat f;
  int n = 0;
  double worst = 0;
  while (cap.read(f)) {
    worst = std::max(worst, cv::norm(f, RenderFrame(sc.scene, n, nullptr), cv::NORM_L1) /
                                static_cast<double>(f.total() * 3));
    ++n;
  }
  EXPECT_EQ(n, sc.scene.FrameCount());
  EXPECT_LT(worst, 6) << "mean absolute JPEG error per channel";
  std::remove(path.c_str());
}

TEST(ScenarioTest, EveryScenarioIsAValidCameraWithItsExpectedRules) {
  for (const std::string& name : ScenarioNames()) {
    const Scenario sc = MakeScenario(name, Sprites());
    ASSERT_EQ(sc.scene.name, name);
    absl::StatusOr<pipeline::CameraSpec> spec = pipeline::ParseCameraSpec(WithSource(sc, "/x.avi"));
    ASSERT_TRUE(spec.ok()) << name << ": " << spec.status();
    ASSERT_FALSE(sc.expected.empty()) << name;
    for (const ExpectedEvent& e : sc.expected) {
      EXPECT_NE(spec->FindBlock(e.rule), nullptr) << name << ": " << e.rule;
      EXPECT_GE(e.start, 0.5) << name;
      EXPECT_LE(e.start, sc.scene.duration - 1) << name;
    }
    EXPECT_LE(sc.scene.duration * sc.scene.fps, 200) << "bounded runtime";
  }
  EXPECT_EQ(MakeScenario("nope", Sprites()).scene.name, "");
}

pipeline::Event Ev(std::string id, std::string rule, std::string type, double start,
                   std::string zone = "", std::string dir = "") {
  pipeline::Event e;
  e.id = std::move(id);
  e.rule = std::move(rule);
  e.type = std::move(type);
  e.start = start;
  e.zone = std::move(zone);
  e.direction = std::move(dir);
  return e;
}

TEST(EvaluateTest, MatchesOneToOneWithinTheToleranceGreedyByTime) {
  const std::vector<ExpectedEvent> want = {
      {"cross", "line_crossing", 0, "entry", "forward", 2.0},
      {"cross", "line_crossing", 0, "entry", "forward", 2.6},
      {"cross", "line_crossing", 0, "entry", "backward", 5.0},
      {"loiter", "loitering", 0, "lawn", "", 3.0},
  };
  std::vector<pipeline::Event> got = {
      Ev("c:cross:1", "cross", "line_crossing", 2.5, "entry", "forward"),
      Ev("c:cross:2", "cross", "line_crossing", 2.1, "entry", "forward"),
      Ev("c:cross:3", "cross", "line_crossing", 5.2, "entry", "forward"),  // wrong direction
      Ev("c:loiter:1", "loiter", "loitering", 4.5, "lawn"),                // 1.5 s late
  };
  got.push_back(got[1]);  // a later copy (kEnd) of the same event counts once
  const Evaluation ev = Evaluate(want, got, {});
  const RuleScore& cross = ev.rules.at("cross");
  EXPECT_EQ(cross.expected, 3);
  EXPECT_EQ(cross.produced, 3);
  EXPECT_EQ(cross.matched, 2);
  EXPECT_NEAR(cross.precision, 2.0 / 3, 1e-9);
  EXPECT_NEAR(cross.recall, 2.0 / 3, 1e-9);
  EXPECT_NEAR(cross.mean_start_error, 0.1, 1e-9);  // 2.0<->2.1, 2.6<->2.5
  EXPECT_NEAR(cross.max_start_error, 0.1, 1e-9);
  EXPECT_EQ(ev.rules.at("loiter").matched, 0);
  EXPECT_EQ(ev.rules.at("loiter").recall, 0);
  EXPECT_EQ((ev.line_counts.at({"entry", "forward"})), 3);
  EXPECT_EQ(ev.line_counts.count({"entry", "backward"}), 0U);
  EXPECT_NE(ev.Summary().find("unmatched expected loiter"), std::string::npos) << ev.Summary();
}

TEST(EvaluateTest, ChecksTheActorThroughTheSnapshotBox) {
  GtFrame f;
  f.index = 0;
  f.boxes = {{1, "person", {0, 0, 10, 10}, 1}, {2, "person", {100, 100, 110, 110}, 1}};
  pipeline::Event got = Ev("c:r:1", "r", "intrusion", 1.0, "z");
  got.box = {100, 100, 110, 110};
  got.snapshot_frame = 0;
  EXPECT_EQ(Evaluate({{"r", "intrusion", 1, "z", "", 1.0}}, {got}, {f}).rules.at("r").matched, 0);
  EXPECT_EQ(Evaluate({{"r", "intrusion", 2, "z", "", 1.0}}, {got}, {f}).rules.at("r").matched, 1);
}

TEST(EvaluateTest, ReadsTheEventsApiJson) {
  const nlohmann::json body = {{"events",
                                {{{"id", "c:cross:1"},
                                  {"rule", "cross"},
                                  {"type", "line_crossing"},
                                  {"zone", "entry"},
                                  {"direction", "backward"},
                                  {"track_id", 4},
                                  {"start_time", 3.5},
                                  {"end_time", 3.5},
                                  {"box", {1, 2, 30, 40}}},
                                 "junk"}},
                               {"next_cursor", ""}};
  const std::vector<pipeline::Event> events = EventsFromJson(body);
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].direction, "backward");
  EXPECT_EQ(events[0].track_id, 4U);
  EXPECT_DOUBLE_EQ(events[0].start, 3.5);
  EXPECT_FLOAT_EQ(events[0].box.x2, 30);
  EXPECT_TRUE(EventsFromJson(nlohmann::json("x")).empty());
}

}  // namespace
}  // namespace heteroaccel::scenes

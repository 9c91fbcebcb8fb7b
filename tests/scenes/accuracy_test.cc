// Accuracy of a camera pipeline on the synthetic scenes: each scenario is
// rendered to an MJPG file, run through the real object detector, the tracker
// and the rules in this process (in_process.h), and its events scored against
// the scripted ground truth: line counts per direction exact, every rule's
// precision and recall >= 0.95, start times within 1 s.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "scenes/evaluate.h"
#include "scenes/in_process.h"
#include "scenes/scenarios.h"
#include "testing/models.h"

namespace heteroaccel::scenes {
namespace {

class SceneAccuracyTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SceneAccuracyTest, EventsMatchTheGroundTruth) {
  absl::StatusOr<const SpriteLibrary*> lib = SharedSpriteLibrary(testing::ModelsDir());
  ASSERT_TRUE(lib.ok()) << lib.status();
  const Scenario sc = MakeScenario(GetParam(), **lib);
  const std::string path = "/tmp/scene_" + GetParam() + "_" + std::to_string(getpid()) + ".avi";
  absl::StatusOr<std::vector<GtFrame>> truth = RenderToFile(sc.scene, path);
  ASSERT_TRUE(truth.ok()) << truth.status();
  absl::StatusOr<pipeline::CameraSpec> spec = pipeline::ParseCameraSpec(WithSource(sc, path));
  ASSERT_TRUE(spec.ok()) << spec.status();
  std::unique_ptr<inference::Model> model = testing::LoadModel("object");
  ASSERT_NE(model, nullptr);
  absl::StatusOr<InProcessResult> run = RunInProcess(*spec, path, *model);
  std::remove(path.c_str());
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->frame_count, sc.scene.FrameCount());

  const Evaluation ev = Evaluate(sc.expected, run->events, *truth);
  if (std::getenv("SCENES_DEBUG") != nullptr) {
    for (size_t i = 0; i < run->tracks.size(); ++i) {
      std::printf("t=%.1f gt:", run->frames[i].time);
      for (const GtBox& b : (*truth)[i].boxes) {
        std::printf(" a%d[%.0f,%.0f %.0fx%.0f v%.2f]", b.actor, b.box.BottomCenter().x, b.box.y2,
                    b.box.Width(), b.box.Height(), b.visible);
      }
      std::printf("\n   det:");
      for (const pipeline::Detection& d : run->frames[i].detections) {
        std::printf(" %s%.2f[%.0f,%.0f %.0fx%.0f]", d.label.c_str(), d.score,
                    d.box.BottomCenter().x, d.box.y2, d.box.Width(), d.box.Height());
      }
      std::printf("\n   trk:");
      for (const pipeline::Track& t : run->tracks[i]) {
        std::printf(" #%llu%s%s[%.0f,%.0f]", static_cast<unsigned long long>(t.id),
                    t.confirmed ? "" : "?", t.lost ? "L" : "", t.box.BottomCenter().x, t.box.y2);
      }
      std::printf("\n");
    }
  }
  std::printf("scene %s:\n%s", GetParam().c_str(), ev.Summary().c_str());
  for (const auto& [rule, s] : ev.rules) {
    EXPECT_GE(s.precision, 0.95) << rule << "\n" << ev.Summary();
    EXPECT_GE(s.recall, 0.95) << rule << "\n" << ev.Summary();
    EXPECT_LE(s.max_start_error, 1.0) << rule;
  }
  for (const auto& [key, n] : sc.line_counts) {
    auto it = ev.line_counts.find(key);
    EXPECT_EQ(it == ev.line_counts.end() ? 0 : it->second, n) << key.first << " " << key.second;
  }
  for (const auto& [key, n] : ev.line_counts) {
    EXPECT_TRUE(sc.line_counts.count(key))
        << "unexpected crossings " << key.first << " " << key.second << ": " << n;
  }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, SceneAccuracyTest, ::testing::ValuesIn(ScenarioNames()),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace heteroaccel::scenes

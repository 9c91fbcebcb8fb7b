// The real object detector (SSD MobileNetV2, OIDv4 classes) on rendered scene
// frames: per-class recall of the ground-truth objects (mostly visible and
// inside the frame), at the model's default score threshold (0.5), IoU >= 0.5.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>

#include "scenes/in_process.h"
#include "scenes/scenarios.h"
#include "testing/models.h"

namespace heteroaccel::scenes {
namespace {

TEST(SceneDetectorTest, FindsThePeopleCarsAndCupsOfEveryScenario) {
  absl::StatusOr<const SpriteLibrary*> lib = SharedSpriteLibrary(testing::ModelsDir());
  ASSERT_TRUE(lib.ok()) << lib.status();
  std::unique_ptr<inference::Model> model = testing::LoadModel("object");
  ASSERT_NE(model, nullptr);
  std::map<std::string, std::pair<int, int>> found;  // label -> (found, total)
  for (const std::string& name : ScenarioNames()) {
    const Scenario sc = MakeScenario(name, **lib);
    for (int i = 0; i < sc.scene.FrameCount(); i += 4) {
      GtFrame gt;
      const cv::Mat frame = RenderFrame(sc.scene, i, &gt);
      absl::StatusOr<inference::InferenceOutput> out = model->Run(frame);
      ASSERT_TRUE(out.ok()) << out.status();
      const pipeline::FrameResult fr = ToFrameResult(*out, static_cast<uint64_t>(i), gt.time);
      for (const GtBox& b : gt.boxes) {
        const bool inside = b.box.x1 > 2 && b.box.x2 < frame.cols - 2 && b.box.y1 > 2;
        if (b.visible < 0.8F || !inside) continue;
        bool hit = false;
        for (const pipeline::Detection& d : fr.detections) {
          hit = hit || (d.label == b.label && pipeline::IoU(d.box, b.box) >= 0.5F);
        }
        found[b.label].first += hit ? 1 : 0;
        found[b.label].second += 1;
      }
    }
  }
  for (const auto& [label, n] : found) {
    const double recall = static_cast<double>(n.first) / n.second;
    std::printf("detector recall on scene frames: %s %d/%d = %.3f\n", label.c_str(), n.first,
                n.second, recall);
    EXPECT_GE(recall, 0.85) << label;
  }
  EXPECT_EQ(found.size(), 3U) << "person, car and coffee cup all appear";
}

}  // namespace
}  // namespace heteroaccel::scenes

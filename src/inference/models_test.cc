// Accuracy of the built-in models on real images (scikit-image's public-domain
// and CC0 test data, fetched by `make setup`).
#include "testing/models.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <opencv2/imgcodecs.hpp>

#include "inference/catalog.h"

namespace heteroaccel::inference {
namespace {

using heteroaccel::testing::LoadImage;

std::unique_ptr<Model> Load(std::string_view type, std::string_view variant = "") {
  return heteroaccel::testing::LoadModel(type, variant);
}

bool Inside(const Keypoint& k, const Box& b) {
  return k.x >= b.x1 && k.x <= b.x2 && k.y >= b.y1 && k.y <= b.y2;
}

// The astronaut's face occupies roughly x 165..285, y 65..190 of the 512x512 image.
constexpr Box kAstronautFace{165, 65, 285, 190};

class FaceModelTest : public ::testing::TestWithParam<const char*> {};

TEST_P(FaceModelTest, FindsExactlyTheAstronautsFace) {
  auto model = Load("face", GetParam());
  ASSERT_NE(model, nullptr);
  auto out = model->Run(LoadImage("astronaut.png"));
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->detections.size(), 1u);
  const Detection& face = out->detections[0];
  EXPECT_GT(face.score, 0.7f);
  EXPECT_GT(IntersectionOverUnion(face.box, kAstronautFace), 0.5f);
  ASSERT_EQ(face.keypoints.size(), 6u);
  for (const Keypoint& k : face.keypoints) {
    if (k.name.find("ear") == std::string::npos) {
      EXPECT_TRUE(Inside(k, face.box)) << k.name;
    }
  }
  // Eyes above the mouth; the subject's right eye is on the image's left.
  EXPECT_LT(face.keypoints[0].y, face.keypoints[3].y);
  EXPECT_LT(face.keypoints[0].x, face.keypoints[1].x);
}

TEST_P(FaceModelTest, FindsNoFaceInACupOfCoffee) {
  auto model = Load("face", GetParam());
  ASSERT_NE(model, nullptr);
  auto out = model->Run(LoadImage("coffee.png"));
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->detections.empty());
}

INSTANTIATE_TEST_SUITE_P(Variants, FaceModelTest,
                         ::testing::Values("blazeface-front-128", "blazeface-back-256"));

const Detection* Best(const InferenceOutput& out, std::string_view label) {
  const Detection* best = nullptr;
  for (const Detection& d : out.detections) {
    if (d.label == label && (best == nullptr || d.score > best->score)) best = &d;
  }
  return best;
}

TEST(CatalogTest, PutReplacesInPlaceOrAppendsAfterItsTypeAndPointersStayValid) {
  auto spec = [](std::string type, std::string variant, std::string description = "") {
    ModelSpec s;
    s.type = std::move(type);
    s.variant = std::move(variant);
    s.description = std::move(description);
    return s;
  };
  Catalog catalog({spec("face", "a"), spec("pose", "p"), spec("face", "b")});
  auto b = catalog.Find("face", "b");
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(catalog.Put(spec("face", "c")));          // appended after face's last
  EXPECT_TRUE(catalog.Put(spec("face", "b", "second")));  // replaced in place
  EXPECT_FALSE(catalog.Put(spec("text", "t")));
  std::vector<std::string> order;
  for (const ModelSpec& s : catalog.specs()) order.push_back(s.type + "/" + s.variant);
  EXPECT_EQ(order, (std::vector<std::string>{"face/a", "pose/p", "face/b", "face/c", "text/t"}));
  EXPECT_EQ((*catalog.Find("face", "b"))->description, "second");
  EXPECT_EQ((*b)->variant, "b");  // the replaced spec is still readable
  EXPECT_EQ((*catalog.Find("face"))->variant, "a");  // the default did not move
  EXPECT_TRUE(catalog.Remove("face", "c"));
  EXPECT_FALSE(catalog.Remove("face", "c"));
  EXPECT_FALSE(catalog.Find("face", "c").ok());
}

TEST(CatalogTest, VariantsOfATypeShareKeypointsAndSkeleton) {
  // The wire format and metadata describe keypoints per type.
  std::map<std::string, const ModelSpec*> first;
  for (const ModelSpec& spec : Catalog::BuiltIn().specs()) {
    auto [it, inserted] = first.emplace(spec.type, &spec);
    if (inserted) continue;
    EXPECT_EQ(spec.keypoint_names, it->second->keypoint_names) << spec.type << "/" << spec.variant;
    EXPECT_EQ(spec.skeleton, it->second->skeleton) << spec.type << "/" << spec.variant;
  }
}

TEST(CatalogTest, SkeletonsJoinOnlyTheTypesOwnKeypoints) {
  for (const ModelSpec& spec : Catalog::BuiltIn().specs()) {
    const int count = static_cast<int>(spec.keypoint_names.size());
    for (const auto& [a, b] : spec.skeleton) {
      EXPECT_TRUE(a >= 0 && a < count && b >= 0 && b < count && a != b)
          << spec.type << "/" << spec.variant << ": edge " << a << "-" << b;
    }
    const bool drawn_as_lines =
        spec.type == "pose" || spec.type == "hand" || spec.type == "gesture" || spec.type == "text";
    EXPECT_EQ(!spec.skeleton.empty(), drawn_as_lines) << spec.type << "/" << spec.variant;
  }
}

TEST(ObjectModelTest, FindsThePersonInAstronaut) {
  auto model = Load("object");
  ASSERT_NE(model, nullptr);
  auto out = model->Run(LoadImage("astronaut.png"));
  ASSERT_TRUE(out.ok()) << out.status();
  const Detection* person = Best(*out, "Person");
  ASSERT_NE(person, nullptr);
  EXPECT_GT(person->score, 0.5f);
  // She fills most of the frame; her face is inside her box.
  EXPECT_GT(person->box.Area(), 0.3f * 512 * 512);
  EXPECT_GT(IntersectionOverUnion(person->box, kAstronautFace), 0.0f);
}

TEST(ObjectModelTest, FindsTheCatInChelsea) {
  auto model = Load("object");
  ASSERT_NE(model, nullptr);
  auto out = model->Run(LoadImage("chelsea.png"));
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_FALSE(out->detections.empty());
  EXPECT_EQ(out->detections[0].label, "Cat");
  EXPECT_EQ(Best(*out, "Person"), nullptr);
}

}  // namespace
}  // namespace heteroaccel::inference

// Accuracy of the pose, hand and gesture pipelines on real photographs:
// scikit-image's astronaut/coffee/page/chelsea and three hand photos from the
// fingerpose npm package (MIT), all fetched by `make setup`.
#include <gtest/gtest.h>

#include <cstdio>

#include <array>
#include <cstdlib>
#include <numbers>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "inference/catalog.h"
#include "inference/models/gesture.h"
#include "inference/models/hand_mediapipe.h"
#include "inference/models/pose_mediapipe.h"
#include "inference/opencl_context.h"
#include "testing/models.h"

namespace heteroaccel::inference {
namespace {

using heteroaccel::testing::LoadImage;
using heteroaccel::testing::ModelsDir;

std::unique_ptr<Model> Load(std::string_view type, std::string_view variant,
                            Target target = Target::kCpu) {
  return heteroaccel::testing::LoadModel(type, variant, target);
}

InferenceOutput RunOn(Model& model, const cv::Mat& image) {
  auto out = model.Run(image);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? std::move(*out) : InferenceOutput{};
}

const Keypoint& Named(const Detection& d, std::string_view name) {
  for (const Keypoint& k : d.keypoints) {
    if (k.name == name) return k;
  }
  ADD_FAILURE() << "no keypoint " << name;
  static const Keypoint missing;
  return missing;
}

bool Inside(const Keypoint& k, const Box& b) {
  return k.x >= b.x1 && k.x <= b.x2 && k.y >= b.y1 && k.y <= b.y2;
}

// --- pose -------------------------------------------------------------------

// The astronaut's face occupies roughly x 165..285, y 65..190 of the 512x512 image.
constexpr Box kAstronautFace{165, 65, 285, 190};

class PoseModelTest : public ::testing::TestWithParam<const char*> {};

TEST_P(PoseModelTest, FindsTheAstronautsPose) {
  auto model = Load("pose", GetParam());
  ASSERT_NE(model, nullptr);
  const InferenceOutput out = RunOn(*model, LoadImage("astronaut.png"));
  ASSERT_EQ(out.detections.size(), 1u);
  const Detection& person = out.detections[0];
  EXPECT_EQ(person.label, "person");
  EXPECT_GT(person.score, 0.9f);
  ASSERT_EQ(person.keypoints.size(), 33u);
  EXPECT_EQ(person.keypoints[0].name, "nose");
  EXPECT_EQ(person.keypoints[32].name, "right_foot_index");
  const Keypoint& nose = Named(person, "nose");
  const Keypoint& left_eye = Named(person, "left_eye");
  const Keypoint& right_eye = Named(person, "right_eye");
  const Keypoint& left_shoulder = Named(person, "left_shoulder");
  const Keypoint& right_shoulder = Named(person, "right_shoulder");
  EXPECT_TRUE(Inside(nose, kAstronautFace)) << nose.x << "," << nose.y;
  EXPECT_GT(nose.score, 0.9f);
  EXPECT_TRUE(Inside(left_eye, kAstronautFace));
  EXPECT_TRUE(Inside(right_eye, kAstronautFace));
  EXPECT_GT(left_shoulder.y, nose.y + 50);
  EXPECT_GT(right_shoulder.y, nose.y + 50);
  // She faces the camera: her left side is on the image's right.
  EXPECT_GT(left_eye.x, right_eye.x);
  EXPECT_GT(left_shoulder.x - right_shoulder.x, 2 * (left_eye.x - right_eye.x));
}

TEST_P(PoseModelTest, FindsNoPoseWithoutAPerson) {
  auto model = Load("pose", GetParam());
  ASSERT_NE(model, nullptr);
  for (const char* image : {"coffee.png", "page.png", "chelsea.png"}) {
    EXPECT_TRUE(RunOn(*model, LoadImage(image)).detections.empty()) << image;
  }
}

// A close-up, a head-and-shoulders crop of the astronaut: the object detector sees
// no person there, and the face gives the region instead.
TEST_P(PoseModelTest, FindsThePoseOfACloseUpFromTheFace) {
  const cv::Mat image = LoadImage("astronaut.png");
  for (const cv::Rect crop : {cv::Rect(100, 20, 260, 260), cv::Rect(120, 40, 220, 200)}) {
    const cv::Mat close_up = image(crop).clone();
    auto objects = Load("object", "ssd-mobilenetv2-oidv4");
    ASSERT_NE(objects, nullptr);
    int people = 0;
    for (const Detection& d : RunOn(*objects, close_up).detections) people += d.label == "Person";
    auto model = Load("pose", GetParam());
    ASSERT_NE(model, nullptr);
    const InferenceOutput out = RunOn(*model, close_up);
    ASSERT_EQ(out.detections.size(), 1u) << crop << " (" << people << " person boxes)";
    const Detection& person = out.detections[0];
    const Box face{kAstronautFace.x1 - crop.x, kAstronautFace.y1 - crop.y, kAstronautFace.x2 - crop.x,
                   kAstronautFace.y2 - crop.y};
    const Keypoint& nose = Named(person, "nose");
    EXPECT_TRUE(Inside(nose, face)) << crop << ": " << nose.x << "," << nose.y;
    EXPECT_TRUE(Inside(Named(person, "left_eye"), face)) << crop;
    EXPECT_GT(Named(person, "left_eye").x, Named(person, "right_eye").x) << crop;
    std::printf("%s crop %dx%d: %d person boxes, pose presence %.2f, nose %.0f,%.0f\n", GetParam(),
                crop.width, crop.height, people, person.score, nose.x, nose.y);
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, PoseModelTest,
                         ::testing::Values("pose-lite", "pose-full", "pose-heavy"));

TEST(PoseModelTest, LiteIsTheDefaultVariant) {
  auto spec = Catalog::BuiltIn().Find("pose");
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ((*spec)->variant, "pose-lite");
  EXPECT_EQ((*spec)->keypoint_names, PoseKeypointNames());
}

TEST(PoseModelTest, ForwardOnlyNeedsARunFirst) {
  auto model = Load("pose", "pose-lite");
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->ForwardOnly().code(), absl::StatusCode::kFailedPrecondition);
  RunOn(*model, LoadImage("astronaut.png"));
  EXPECT_TRUE(model->ForwardOnly().ok());
}

// --- hand -------------------------------------------------------------------

// fingerpose's photos (480x640): one hand, fingers up, the index finger
// straight (nocurl.jpg), every finger folded with the thumb resting along the
// fist (fullcurl.jpg), or the index finger half folded (halfcurl.jpg). The
// raised index fingertip in nocurl.jpg is at about (215, 100); the wrist leaves
// the image at the bottom.
//
// Handedness is not checked: on these photos the model is unsure (its raw
// "left in a mirrored image" output is 0.70 for nocurl.jpg and 0.84 for its
// mirror image with hand-full, 0.28 and 0.25 with hand-lite), so mirroring does
// not flip it and no side can be asserted.
constexpr float kIndexTipX = 215, kIndexTipY = 100;

bool IsHandedness(const std::string& text) { return text == "left" || text == "right"; }

// Variants whose landmark network accepts one weak false hand on chelsea.png (the
// lite palm detector fires on the cat's eye at 0.59 and the lite landmark
// network gives presence 0.51, just above MediaPipe's 0.5).
bool AcceptsWeakFalseHand(std::string_view variant) { return variant.ends_with("lite"); }
constexpr float kWeakScore = 0.6f;

class HandModelTest : public ::testing::TestWithParam<const char*> {};

TEST_P(HandModelTest, FindsThePointingHand) {
  auto model = Load("hand", GetParam());
  ASSERT_NE(model, nullptr);
  const InferenceOutput out = RunOn(*model, LoadImage("hands/nocurl.jpg"));
  ASSERT_EQ(out.detections.size(), 1u);
  const Detection& hand = out.detections[0];
  EXPECT_EQ(hand.label, "hand");
  EXPECT_GT(hand.score, 0.9f);
  EXPECT_TRUE(IsHandedness(hand.text)) << hand.text;
  ASSERT_EQ(hand.keypoints.size(), 21u);
  const Keypoint& tip = Named(hand, "index_finger_tip");
  EXPECT_NEAR(tip.x, kIndexTipX, 30);
  EXPECT_NEAR(tip.y, kIndexTipY, 30);
  // The fingertip is the highest point and the wrist the lowest.
  for (const Keypoint& k : hand.keypoints) {
    EXPECT_GE(k.y, tip.y - 1) << k.name;
    EXPECT_LE(k.y, Named(hand, "wrist").y + 1) << k.name;
  }
  EXPECT_GT(hand.box.Height(), 250);
}

TEST_P(HandModelTest, FollowsARotatedHand) {
  auto model = Load("hand", GetParam());
  ASSERT_NE(model, nullptr);
  const cv::Mat image = LoadImage("hands/nocurl.jpg");
  cv::Mat rotated;  // 90 degrees clockwise: (x, y) -> (rows - 1 - y, x)
  cv::rotate(image, rotated, cv::ROTATE_90_CLOCKWISE);
  const InferenceOutput upright = RunOn(*model, image);
  const InferenceOutput turned = RunOn(*model, rotated);
  ASSERT_EQ(upright.detections.size(), 1u);
  ASSERT_EQ(turned.detections.size(), 1u);
  for (size_t k = 0; k < 21; ++k) {
    const Keypoint& a = upright.detections[0].keypoints[k];
    const Keypoint& b = turned.detections[0].keypoints[k];
    EXPECT_NEAR(b.x, image.rows - a.y, 12) << a.name;
    EXPECT_NEAR(b.y, a.x, 12) << a.name;
  }
  EXPECT_EQ(turned.detections[0].text, upright.detections[0].text);
}

TEST_P(HandModelTest, FollowsAMirroredHand) {
  auto model = Load("hand", GetParam());
  ASSERT_NE(model, nullptr);
  const cv::Mat image = LoadImage("hands/nocurl.jpg");
  cv::Mat mirrored;
  cv::flip(image, mirrored, 1);
  const InferenceOutput out = RunOn(*model, image);
  const InferenceOutput flipped = RunOn(*model, mirrored);
  ASSERT_EQ(out.detections.size(), 1u);
  ASSERT_EQ(flipped.detections.size(), 1u);
  // The wrist and the raised index finger land on their mirror images; the
  // folded fingers, partly hidden, move by up to ~25 px (the palm is ~150 px wide).
  for (size_t k = 0; k < 21; ++k) {
    const Keypoint& a = out.detections[0].keypoints[k];
    const Keypoint& b = flipped.detections[0].keypoints[k];
    const bool visible = k == 0 || (k >= 5 && k <= 8);
    EXPECT_NEAR(b.x, image.cols - a.x, visible ? 12 : 35) << a.name;
    EXPECT_NEAR(b.y, a.y, visible ? 12 : 35) << a.name;
  }
}

TEST_P(HandModelTest, FindsNoHandWithoutOne) {
  auto model = Load("hand", GetParam());
  ASSERT_NE(model, nullptr);
  for (const char* image : {"chelsea.png", "coffee.png", "page.png", "astronaut.png"}) {
    const InferenceOutput out = RunOn(*model, LoadImage(image));
    EXPECT_TRUE(out.detections.empty()) << image;
  }
}

TEST_P(HandModelTest, PalmDetectorFindsNoPalmWithoutAHand) {
  auto spec = Catalog::BuiltIn().Find("hand", GetParam());
  ASSERT_TRUE(spec.ok());
  const HandTrackerConfig files =
      std::string_view(GetParam()) == "hand-full" ? FullHandConfig() : LiteHandConfig();
  auto tracker = HandTracker::Create(files, {ModelsDir(), Target::kCpu, -1});
  ASSERT_TRUE(tracker.ok()) << tracker.status();
  for (const char* image : {"chelsea.png", "coffee.png", "page.png", "astronaut.png"}) {
    auto palms = (*tracker)->FindPalms(LoadImage(image));
    ASSERT_TRUE(palms.ok());
    if (AcceptsWeakFalseHand(GetParam()) && std::string_view(image) == "chelsea.png") {
      for (const Detection& d : *palms) EXPECT_LT(d.score, kWeakScore) << image;
    } else {
      EXPECT_TRUE(palms->empty()) << image << ": " << palms->size() << " palms";
    }
  }
  auto palms = (*tracker)->FindPalms(LoadImage("hands/fullcurl.jpg"));
  ASSERT_TRUE(palms.ok());
  EXPECT_EQ(palms->size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Variants, HandModelTest, ::testing::Values("hand-full", "hand-lite"));

TEST(HandRegionTest, FollowsMediaPipesPalmToRegionRule) {
  // A palm box 100x80 centred at (300, 200) whose wrist-to-middle-finger vector
  // points right: the region turns by +90 degrees, moves 40 px (half the box
  // height) towards the fingers and is 2.6 x 100 px wide.
  Detection palm;
  palm.box = {250, 160, 350, 240};
  palm.keypoints = {{"", 260, 200}, {"", 0, 0}, {"", 340, 200}};
  const RotatedSquare region = HandRegionFromPalm(palm);
  EXPECT_NEAR(region.rotation, std::numbers::pi_v<float> / 2, 1e-5);
  EXPECT_NEAR(region.cx, 340, 1e-3);
  EXPECT_NEAR(region.cy, 200, 1e-3);
  EXPECT_NEAR(region.size, 260, 1e-3);
  // The crop's top edge (the fingers' side) lies on the image's right.
  const cv::Point2f top_middle = region.ToImage(112, 0, 224);
  EXPECT_NEAR(top_middle.x, 340 + 130, 1e-3);
  EXPECT_NEAR(top_middle.y, 200, 1e-3);
}

// --- gesture ------------------------------------------------------------------

class GestureModelTest : public ::testing::TestWithParam<const char*> {};

TEST_P(GestureModelTest, RecognisesGesturesInPhotos) {
  auto model = Load("gesture", GetParam());
  ASSERT_NE(model, nullptr);
  struct Case {
    const char* image;
    const char* gesture;
  };
  const std::array<Case, 3> cases = {{{"hands/nocurl.jpg", "pointing"},
                                      {"hands/fullcurl.jpg", "fist"},
                                      {"hands/halfcurl.jpg", "none"}}};
  for (const auto& c : cases) {
    const InferenceOutput out = RunOn(*model, LoadImage(c.image));
    ASSERT_EQ(out.detections.size(), 1u) << c.image;
    const Detection& hand = out.detections[0];
    EXPECT_EQ(hand.label, c.gesture) << c.image;
    EXPECT_EQ(GestureNames()[hand.class_id], hand.label);
    EXPECT_TRUE(IsHandedness(hand.text)) << c.image;
    EXPECT_GT(hand.score, 0.9f) << c.image;
    EXPECT_EQ(hand.keypoints.size(), 21u);
  }
}

TEST_P(GestureModelTest, PointingSurvivesRotation) {
  auto model = Load("gesture", GetParam());
  ASSERT_NE(model, nullptr);
  cv::Mat rotated;
  cv::rotate(LoadImage("hands/nocurl.jpg"), rotated, cv::ROTATE_90_COUNTERCLOCKWISE);
  const InferenceOutput out = RunOn(*model, rotated);
  ASSERT_EQ(out.detections.size(), 1u);
  EXPECT_EQ(out.detections[0].label, "pointing");
}

INSTANTIATE_TEST_SUITE_P(Variants, GestureModelTest,
                         ::testing::Values("gesture-full", "gesture-lite"));

// --- OpenCL -------------------------------------------------------------------

// Runs `variant` on the OpenCL target and checks it against the CPU result.
void ExpectOpenClMatchesCpu(std::string_view type, std::string_view variant,
                            const std::string& image_name) {
  auto device = InitOpenCl();
  if (!device.ok()) GTEST_SKIP() << device.status();
  const cv::Mat image = LoadImage(image_name);
  auto cpu = Load(type, variant, Target::kCpu);
  auto opencl = Load(type, variant, Target::kOpenCl);
  ASSERT_NE(cpu, nullptr);
  ASSERT_NE(opencl, nullptr);
  const InferenceOutput expected = RunOn(*cpu, image);
  const InferenceOutput actual = RunOn(*opencl, image);
  ASSERT_EQ(expected.detections.size(), 1u);
  ASSERT_EQ(actual.detections.size(), 1u) << "on " << device->name;
  const Detection& a = actual.detections[0];
  const Detection& e = expected.detections[0];
  EXPECT_NEAR(a.score, e.score, 0.02);
  EXPECT_EQ(a.text, e.text);
  ASSERT_EQ(a.keypoints.size(), e.keypoints.size());
  for (size_t k = 0; k < a.keypoints.size(); ++k) {
    EXPECT_NEAR(a.keypoints[k].x, e.keypoints[k].x, 3) << a.keypoints[k].name;
    EXPECT_NEAR(a.keypoints[k].y, e.keypoints[k].y, 3) << a.keypoints[k].name;
  }
}

TEST(OpenClTest, PoseLiteAgreesWithCpu) {
  ExpectOpenClMatchesCpu("pose", "pose-lite", "astronaut.png");
}

TEST(OpenClTest, HandLiteAgreesWithCpu) {
  ExpectOpenClMatchesCpu("hand", "hand-lite", "hands/nocurl.jpg");
}

}  // namespace
}  // namespace heteroaccel::inference

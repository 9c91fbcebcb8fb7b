// The gesture classifier on constructed landmark sets: a planar hand model whose
// fingers are straight or folded, then rotated, scaled, shifted and mirrored.
#include "inference/models/gesture.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <numbers>

#include "inference/catalog.h"
#include "inference/models/hand_mediapipe.h"

namespace heteroaccel::inference {
namespace {

struct Point {
  float x = 0, y = 0;
};

// Unit vector at `degrees` from "up" (-y), turning towards +x.
Point Direction(float degrees) {
  const float r = degrees * std::numbers::pi_v<float> / 180.0f;
  return {std::sin(r), -std::cos(r)};
}

Point Step(Point from, float degrees, float length) {
  const Point d = Direction(degrees);
  return {from.x + d.x * length, from.y + d.y * length};
}

float AngleOf(Point from, Point to) {
  return std::atan2(to.x - from.x, -(to.y - from.y)) * 180.0f / std::numbers::pi_v<float>;
}

// How a finger is held: bends at its three joints, in degrees, or folded towards
// the camera (a fist seen from the front: the joints overlap, the tip comes back).
struct FingerPose {
  float mcp = 0, pip = 0, dip = 0;
  bool folded_towards_camera = false;
};
constexpr FingerPose kStraight{0, 5, 5};
constexpr FingerPose kCurled{70, 100, 60};  // folded in the image plane (side view)
constexpr FingerPose kFoldedFront{0, 0, 0, true};
constexpr FingerPose kHalfCurled{10, 90, 20};

struct ThumbPose {
  float direction = 0, mcp = 0, ip = 0;
};
constexpr ThumbPose kThumbOut{-55, 5, 5};
constexpr ThumbPose kThumbTucked{-30, 50, 70};

// A right hand, palm towards the viewer, fingers up; palm length (wrist to middle
// finger base) 1. Points are in HandKeypointNames() order.
std::vector<Point> MakeHand(ThumbPose thumb, FingerPose index, FingerPose middle, FingerPose ring,
                            FingerPose pinky) {
  const Point wrist{0, 0};
  std::vector<Point> p = {wrist};
  const Point cmc{-0.22f, -0.25f};
  const Point thumb_mcp = Step(cmc, thumb.direction, 0.35f);
  const Point thumb_ip = Step(thumb_mcp, thumb.direction + thumb.mcp, 0.3f);
  const Point thumb_tip = Step(thumb_ip, thumb.direction + thumb.mcp + thumb.ip, 0.25f);
  p.insert(p.end(), {cmc, thumb_mcp, thumb_ip, thumb_tip});
  const std::array<Point, 4> bases = {
      {{-0.33f, -0.95f}, {0, -1}, {0.28f, -0.95f}, {0.52f, -0.85f}}};
  const std::array<FingerPose, 4> poses = {index, middle, ring, pinky};
  for (size_t f = 0; f < 4; ++f) {
    const Point mcp = bases[f];
    const FingerPose& pose = poses[f];
    float angle = AngleOf(wrist, mcp);
    if (pose.folded_towards_camera) {
      const Point pip = Step(mcp, angle, 0.3f);
      const Point dip = Step(pip, angle + 170, 0.12f);
      p.insert(p.end(), {mcp, pip, dip, Step(dip, angle + 180, 0.15f)});
      continue;
    }
    const Point pip = Step(mcp, angle += pose.mcp, 0.45f);
    const Point dip = Step(pip, angle += pose.pip, 0.28f);
    p.insert(p.end(), {mcp, pip, dip, Step(dip, angle + pose.dip, 0.22f)});
  }
  return p;
}

// Rotates by `degrees` about the origin, scales, shifts, optionally mirrors.
std::vector<Keypoint> Place(const std::vector<Point>& hand, float degrees, float scale, Point shift,
                            bool mirror = false) {
  const float r = degrees * std::numbers::pi_v<float> / 180.0f;
  std::vector<Keypoint> out;
  for (size_t i = 0; i < hand.size(); ++i) {
    const float x = mirror ? -hand[i].x : hand[i].x;
    const float y = hand[i].y;
    out.push_back({HandKeypointNames()[i], shift.x + scale * (x * std::cos(r) - y * std::sin(r)),
                   shift.y + scale * (x * std::sin(r) + y * std::cos(r))});
  }
  return out;
}

struct Case {
  const char* name;
  Gesture expected;
  std::vector<Point> hand;
};

std::vector<Case> Cases() {
  return {
      {"open_palm", Gesture::kOpenPalm,
       MakeHand(kThumbOut, kStraight, kStraight, kStraight, kStraight)},
      {"fist_side", Gesture::kFist, MakeHand(kThumbTucked, kCurled, kCurled, kCurled, kCurled)},
      {"fist_front", Gesture::kFist,
       MakeHand(kThumbTucked, kFoldedFront, kFoldedFront, kFoldedFront, kFoldedFront)},
      {"pointing", Gesture::kPointing,
       MakeHand(kThumbTucked, kStraight, kCurled, kCurled, kCurled)},
      {"pointing_thumb_out", Gesture::kPointing,
       MakeHand(kThumbOut, kStraight, kFoldedFront, kFoldedFront, kFoldedFront)},
      {"victory", Gesture::kVictory,
       MakeHand(kThumbTucked, kStraight, kStraight, kCurled, kCurled)},
      {"thumbs_up", Gesture::kThumbsUp, MakeHand(kThumbOut, kCurled, kCurled, kCurled, kCurled)},
      {"four_fingers_thumb_in", Gesture::kNone,
       MakeHand(kThumbTucked, kStraight, kStraight, kStraight, kStraight)},
      {"half_curled_index", Gesture::kNone,
       MakeHand(kThumbTucked, kHalfCurled, kCurled, kCurled, kCurled)},
  };
}

TEST(GestureClassifierTest, ConstructedHandsGetTheirGesture) {
  for (const Case& c : Cases()) {
    EXPECT_EQ(GestureName(ClassifyGesture(Place(c.hand, 0, 1, {0, 0}))), GestureName(c.expected))
        << c.name;
  }
}

TEST(GestureClassifierTest, RotationScaleShiftAndMirrorKeepTheGesture) {
  for (const Case& c : Cases()) {
    for (float degrees : {0.0f, 30.0f, 90.0f, 135.0f, 180.0f, 250.0f, 315.0f}) {
      for (float scale : {0.05f, 1.0f, 40.0f, 300.0f}) {
        for (bool mirror : {false, true}) {
          EXPECT_EQ(GestureName(ClassifyGesture(Place(c.hand, degrees, scale, {640, 480}, mirror))),
                    GestureName(c.expected))
              << c.name << " rotated " << degrees << " scaled " << scale << " mirrored " << mirror;
        }
      }
    }
  }
}

TEST(GestureClassifierTest, DescribesFingerStates) {
  const HandShape open = DescribeHand(Place(Cases()[0].hand, 20, 100, {300, 300}));
  EXPECT_TRUE(open.thumb_extended);
  EXPECT_EQ(open.index, FingerState::kExtended);
  EXPECT_EQ(open.pinky, FingerState::kExtended);
  const HandShape half = DescribeHand(
      Place(MakeHand(kThumbTucked, kHalfCurled, kCurled, kCurled, kCurled), 0, 100, {300, 300}));
  EXPECT_FALSE(half.thumb_extended);
  EXPECT_EQ(half.index, FingerState::kBent);
  EXPECT_EQ(half.middle, FingerState::kCurled);
}

TEST(GestureClassifierTest, DegenerateInputIsNone) {
  EXPECT_EQ(ClassifyGesture(std::vector<Keypoint>{}), Gesture::kNone);
  std::vector<Keypoint> hand = Place(Cases()[0].hand, 0, 100, {0, 0});
  hand.pop_back();
  EXPECT_EQ(ClassifyGesture(hand), Gesture::kNone);
  const std::vector<Keypoint> collapsed(21, Keypoint{"", 5, 5});
  EXPECT_EQ(ClassifyGesture(collapsed), Gesture::kNone);
}

TEST(GestureClassifierTest, SpecLabelsFollowTheEnum) {
  auto spec = Catalog::BuiltIn().Find("gesture");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ((*spec)->variant, "gesture-full");
  ASSERT_EQ((*spec)->labels.size(), 6u);
  for (Gesture g : {Gesture::kNone, Gesture::kOpenPalm, Gesture::kFist, Gesture::kPointing,
                    Gesture::kVictory, Gesture::kThumbsUp}) {
    EXPECT_EQ((*spec)->labels[static_cast<size_t>(g)], GestureName(g));
  }
  EXPECT_EQ((*spec)->keypoint_names, HandKeypointNames());
}

}  // namespace
}  // namespace heteroaccel::inference

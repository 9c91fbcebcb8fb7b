#include "inference/models/gesture.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "common/status_macros.h"
#include "inference/models/hand_mediapipe.h"

namespace heteroaccel::inference {
namespace {

// Landmark indices (HandKeypointNames()).
constexpr int kWrist = 0;
constexpr int kThumbCmc = 1, kThumbMcp = 2, kThumbIp = 3, kThumbTip = 4;
constexpr int kIndexMcp = 5, kMiddleMcp = 9, kRingMcp = 13, kPinkyMcp = 17;
constexpr int kHandLandmarks = 21;

// A finger counts as straight when its joints together bend less than this.
constexpr float kStraightFingerDegrees = 60.0f;
// ...and its knuckle (MCP) alone bends less than this.
constexpr float kStraightKnuckleDegrees = 60.0f;
// A finger counts as curled when its tip is nearer the wrist than its middle
// joint (PIP) and its three joints bend at least this much together (a finger
// bent only at the middle joint, tip in the air, is not curled).
constexpr float kCurledFingerDegrees = 140.0f;
// The thumb counts as out when its MCP and IP joints bend less than this in all
// and its tip is clear of the fingers: at least this many palm lengths from every
// joint of the other four (a thumb resting along a fist is straight too).
constexpr float kStraightThumbDegrees = 60.0f;
constexpr float kThumbClearance = 0.35f;

struct Vec {
  float x = 0, y = 0;
};
Vec Sub(const Keypoint& a, const Keypoint& b) { return {a.x - b.x, a.y - b.y}; }
float Length(Vec v) { return std::hypot(v.x, v.y); }
float Distance(const Keypoint& a, const Keypoint& b) { return Length(Sub(a, b)); }

// How far the direction turns at joint b on the way a -> b -> c, in degrees
// (0 = straight on, 180 = folded back).
float Bend(const Keypoint& a, const Keypoint& b, const Keypoint& c) {
  const Vec u = Sub(b, a);
  const Vec v = Sub(c, b);
  const float norms = Length(u) * Length(v);
  if (norms <= 0) return 180.0f;
  const float cosine = std::clamp((u.x * v.x + u.y * v.y) / norms, -1.0f, 1.0f);
  return std::acos(cosine) * 180.0f / std::numbers::pi_v<float>;
}

// mcp, pip, dip, tip = mcp + 0..3.
FingerState Finger(const std::vector<Keypoint>& p, int mcp) {
  const Keypoint& wrist = p[kWrist];
  const float knuckle = Bend(wrist, p[mcp], p[mcp + 1]);
  const float joints =
      Bend(p[mcp], p[mcp + 1], p[mcp + 2]) + Bend(p[mcp + 1], p[mcp + 2], p[mcp + 3]);
  const bool tip_back = Distance(p[mcp + 3], wrist) < Distance(p[mcp + 1], wrist);
  if (tip_back && knuckle + joints >= kCurledFingerDegrees) return FingerState::kCurled;
  if (!tip_back && knuckle < kStraightKnuckleDegrees && joints < kStraightFingerDegrees) {
    return FingerState::kExtended;
  }
  return FingerState::kBent;
}

bool ThumbExtended(const std::vector<Keypoint>& p, float palm) {
  const float joints =
      Bend(p[kThumbCmc], p[kThumbMcp], p[kThumbIp]) + Bend(p[kThumbMcp], p[kThumbIp], p[kThumbTip]);
  if (joints >= kStraightThumbDegrees) return false;
  for (int k = kIndexMcp; k < kHandLandmarks; ++k) {
    if (Distance(p[kThumbTip], p[k]) < kThumbClearance * palm) return false;
  }
  return true;
}

}  // namespace

const std::vector<std::string>& GestureNames() {
  static const std::vector<std::string> names = {"none",     "open_palm", "fist",
                                                 "pointing", "victory",   "thumbs_up"};
  return names;
}

std::string_view GestureName(Gesture gesture) {
  return GestureNames()[static_cast<size_t>(gesture)];
}

HandShape DescribeHand(const std::vector<Keypoint>& landmarks) {
  HandShape shape;
  if (landmarks.size() < kHandLandmarks) return shape;
  const float palm = Distance(landmarks[kWrist], landmarks[kMiddleMcp]);
  if (!(palm > 0) || Distance(landmarks[kIndexMcp], landmarks[kPinkyMcp]) <= 0) return shape;
  shape.thumb_extended = ThumbExtended(landmarks, palm);
  shape.index = Finger(landmarks, kIndexMcp);
  shape.middle = Finger(landmarks, kMiddleMcp);
  shape.ring = Finger(landmarks, kRingMcp);
  shape.pinky = Finger(landmarks, kPinkyMcp);
  return shape;
}

Gesture ClassifyGesture(const HandShape& s) {
  using enum FingerState;
  const auto out = [](FingerState f) { return f == kExtended; };
  const auto folded = [](FingerState f) { return f == kCurled; };
  if (out(s.index) && out(s.middle) && out(s.ring) && out(s.pinky)) {
    return s.thumb_extended ? Gesture::kOpenPalm : Gesture::kNone;
  }
  if (out(s.index) && out(s.middle) && !out(s.ring) && !out(s.pinky)) return Gesture::kVictory;
  if (out(s.index) && !out(s.middle) && !out(s.ring) && !out(s.pinky)) return Gesture::kPointing;
  if (folded(s.index) && folded(s.middle) && folded(s.ring) && folded(s.pinky)) {
    return s.thumb_extended ? Gesture::kThumbsUp : Gesture::kFist;
  }
  return Gesture::kNone;
}

Gesture ClassifyGesture(const std::vector<Keypoint>& landmarks) {
  return ClassifyGesture(DescribeHand(landmarks));
}

namespace {

ModelSpec MakeSpec(std::string variant, const HandTrackerConfig& config, std::string description) {
  return HandTrackerSpec("gesture", std::move(variant), config, std::move(description),
                         GestureNames(), [](std::vector<Detection>& hands) {
                           for (Detection& hand : hands) {
                             const Gesture gesture = ClassifyGesture(hand.keypoints);
                             hand.class_id = static_cast<int>(gesture);
                             hand.label = std::string(GestureName(gesture));
                           }
                         });
}

}  // namespace

ModelSpec GestureFullSpec() {
  ModelSpec spec =
      MakeSpec("gesture-full", FullHandConfig(),
               "Hand gestures (open_palm, fist, pointing, victory, thumbs_up) from MediaPipe "
               "Hands full landmarks, up to 4 hands");
  spec.accuracy =
      "fingerpose photos 3/3: nocurl -> pointing (also rotated 90 degrees), fullcurl -> fist, "
      "halfcurl -> none; open_palm, victory, thumbs_up only on constructed landmarks "
      "(gesture_test.cc, pose_hand_test.cc)";
  return spec;
}

ModelSpec GestureLiteSpec() {
  ModelSpec spec =
      MakeSpec("gesture-lite", LiteHandConfig(),
               "Hand gestures (open_palm, fist, pointing, victory, thumbs_up) from MediaPipe "
               "Hands lite landmarks, up to 4 hands");
  spec.accuracy =
      "fingerpose photos 3/3: nocurl -> pointing (also rotated 90 degrees), fullcurl -> fist, "
      "halfcurl -> none; open_palm, victory, thumbs_up only on constructed landmarks "
      "(gesture_test.cc, pose_hand_test.cc)";
  return spec;
}

}  // namespace heteroaccel::inference

// Hand gestures from MediaPipe's 21 hand landmarks, and the `gesture` inference
// type: the hand pipeline (HandTracker) followed by this classifier.
//
// The classifier is pure and thread-safe. It looks at the 2-D landmarks only and
// uses joint angles and distance ratios (relative to the wrist and the palm), so
// a rotated, scaled, shifted or mirrored hand keeps its gesture. It does not tell
// a thumb up from a thumb pointing elsewhere (`thumbs_up` means "fist with the
// thumb out"), and fingers pointing straight at the camera are foreshortened and
// may read as bent.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "inference/detection.h"
#include "inference/model.h"

namespace heteroaccel::inference {

// In ModelSpec.labels order (class_id = the enum value).
enum class Gesture { kNone = 0, kOpenPalm, kFist, kPointing, kVictory, kThumbsUp };

// "none", "open_palm", "fist", "pointing", "victory", "thumbs_up".
const std::vector<std::string>& GestureNames();
std::string_view GestureName(Gesture gesture);

enum class FingerState {
  kExtended,  // straight and reaching away from the wrist
  kCurled,    // folded: tip nearer the wrist than the middle joint, joints bent >= 140 deg
  kBent,      // neither (half curled, or foreshortened)
};

struct HandShape {
  bool thumb_extended = false;
  FingerState index = FingerState::kBent;
  FingerState middle = FingerState::kBent;
  FingerState ring = FingerState::kBent;
  FingerState pinky = FingerState::kBent;
};

// `landmarks`: the 21 hand keypoints in HandKeypointNames() order. Fewer than 21
// or a degenerate (zero-size) hand gives all fingers kBent.
HandShape DescribeHand(const std::vector<Keypoint>& landmarks);
Gesture ClassifyGesture(const HandShape& shape);
Gesture ClassifyGesture(const std::vector<Keypoint>& landmarks);

// One Detection per hand: label = gesture name, class_id = its index in
// GestureNames(), score = hand presence, text = handedness, 21 keypoints.
ModelSpec GestureFullSpec();  // default: the hand-full pipeline
ModelSpec GestureLiteSpec();  // the hand-lite pipeline

}  // namespace heteroaccel::inference

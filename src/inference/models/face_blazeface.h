// BlazeFace face detection (MediaPipe), front-camera 128x128 and back-camera
// 256x256 variants: one box and six keypoints per face.
#pragma once

#include "inference/model.h"

namespace heteroaccel::inference {

ModelSpec BlazeFaceFront128Spec();
ModelSpec BlazeFaceBack256Spec();

}  // namespace heteroaccel::inference

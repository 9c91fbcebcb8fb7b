// SSD MobileNetV2 object detection (MediaPipe Objectron's detector, trained on 24
// Open Images classes including Person, Car, Bicycle and Cat).
#pragma once

#include "inference/model.h"

namespace heteroaccel::inference {

ModelSpec SsdMobileNetV2Spec();

}  // namespace heteroaccel::inference

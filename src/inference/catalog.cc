#include "inference/catalog.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "inference/models/face_blazeface.h"
#include "inference/models/gesture.h"
#include "inference/models/hand_mediapipe.h"
#include "inference/models/object_ssd.h"
#include "inference/models/pose_mediapipe.h"
#include "inference/models/text_ppocr.h"
#include "inference/models/text_tesseract.h"

namespace heteroaccel::inference {

const Catalog& Catalog::BuiltIn() {
  static const Catalog catalog({
      BlazeFaceFront128Spec(),
      BlazeFaceBack256Spec(),
      SsdMobileNetV2Spec(),
      PoseLiteSpec(),
      PoseFullSpec(),
      PoseHeavySpec(),
      HandFullSpec(),
      HandLiteSpec(),
      GestureFullSpec(),
      GestureLiteSpec(),
      PpOcrV4Spec(),
      Tesseract5Spec(),
  });
  return catalog;
}

std::vector<std::string> Catalog::Types() const {
  std::vector<std::string> types;
  for (const ModelSpec& spec : specs_) {
    if (std::find(types.begin(), types.end(), spec.type) == types.end()) {
      types.push_back(spec.type);
    }
  }
  return types;
}

absl::StatusOr<const ModelSpec*> Catalog::Find(std::string_view type,
                                               std::string_view variant) const {
  std::vector<std::string> variants;
  for (const ModelSpec& spec : specs_) {
    if (spec.type != type) continue;
    if (variant.empty() || spec.variant == variant) return &spec;
    variants.push_back(spec.variant);
  }
  if (variants.empty()) {
    return absl::NotFoundError(absl::StrCat("unknown model '", std::string(type),
                                            "'; available: ", absl::StrJoin(Types(), ", ")));
  }
  return absl::NotFoundError(absl::StrCat("model '", std::string(type), "' has no variant '",
                                          std::string(variant),
                                          "'; available: ", absl::StrJoin(variants, ", ")));
}

}  // namespace heteroaccel::inference

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

Catalog::Catalog(std::vector<ModelSpec> specs) {
  for (ModelSpec& spec : specs) specs_.push_back(std::make_shared<const ModelSpec>(std::move(spec)));
}

std::vector<ModelSpec> Catalog::specs() const {
  absl::MutexLock lock(&mu_);
  std::vector<ModelSpec> specs;
  specs.reserve(specs_.size());
  for (const auto& spec : specs_) specs.push_back(*spec);
  return specs;
}

std::vector<std::string> Catalog::Types() const {
  absl::MutexLock lock(&mu_);
  return TypesLocked();
}

std::vector<std::string> Catalog::TypesLocked() const {
  std::vector<std::string> types;
  for (const auto& spec : specs_) {
    if (std::find(types.begin(), types.end(), spec->type) == types.end()) {
      types.push_back(spec->type);
    }
  }
  return types;
}

bool Catalog::Put(ModelSpec spec) {
  auto entry = std::make_shared<const ModelSpec>(std::move(spec));
  absl::MutexLock lock(&mu_);
  auto last_of_type = specs_.end();
  for (auto it = specs_.begin(); it != specs_.end(); ++it) {
    if ((*it)->type != entry->type) continue;
    if ((*it)->variant == entry->variant) {
      replaced_.push_back(std::move(*it));
      *it = std::move(entry);
      return true;
    }
    last_of_type = it;
  }
  specs_.insert(last_of_type == specs_.end() ? specs_.end() : last_of_type + 1, std::move(entry));
  return false;
}

bool Catalog::Remove(std::string_view type, std::string_view variant) {
  absl::MutexLock lock(&mu_);
  for (auto it = specs_.begin(); it != specs_.end(); ++it) {
    if ((*it)->type == type && (*it)->variant == variant) {
      replaced_.push_back(std::move(*it));
      specs_.erase(it);
      return true;
    }
  }
  return false;
}

absl::StatusOr<const ModelSpec*> Catalog::Find(std::string_view type,
                                               std::string_view variant) const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> variants;
  for (const auto& spec : specs_) {
    if (spec->type != type) continue;
    if (variant.empty() || spec->variant == variant) return spec.get();
    variants.push_back(spec->variant);
  }
  if (variants.empty()) {
    return absl::NotFoundError(absl::StrCat("unknown model '", std::string(type),
                                            "'; available: ", absl::StrJoin(TypesLocked(), ", ")));
  }
  return absl::NotFoundError(absl::StrCat("model '", std::string(type), "' has no variant '",
                                          std::string(variant),
                                          "'; available: ", absl::StrJoin(variants, ", ")));
}

}  // namespace heteroaccel::inference

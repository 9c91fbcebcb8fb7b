#include "api/detections_codec.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace heteroaccel::api {
namespace {

using inference::Detection;

const protocol::Tensor* FindTensor(const std::vector<protocol::Tensor>& tensors,
                                   std::string_view name) {
  for (const protocol::Tensor& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// Three decimals are a thousandth of a pixel: plenty, and keeps JSON short.
double Round(float v) { return std::round(static_cast<double>(v) * 1000.0) / 1000.0; }

}  // namespace

const std::vector<std::string>& DetectionOutputNames() {
  static const std::vector<std::string> names = {
      "boxes", "scores", "class_ids", "labels", "keypoints", "keypoint_scores", "texts"};
  return names;
}

std::vector<protocol::TensorSpec> DetectionOutputSpecs(int64_t k) {
  using protocol::DataType;
  return {
      {"boxes", DataType::kFp32, {-1, 4}, "x1,y1,x2,y2 in input-image pixels"},
      {"scores", DataType::kFp32, {-1}, "confidence in [0,1]"},
      {"class_ids", DataType::kInt32, {-1}, "index into labels"},
      {"labels", DataType::kBytes, {-1}, "class name"},
      {"keypoints", DataType::kFp32, {-1, k, 2}, "x,y in input-image pixels, see keypoint_names"},
      {"keypoint_scores",
       DataType::kFp32,
       {-1, k},
       "per keypoint: visibility in [0,1], 1 when the model has none"},
      {"texts",
       DataType::kBytes,
       {-1},
       "recognised text (text), handedness left/right (hand, gesture), else empty"}};
}

std::vector<protocol::Tensor> DetectionsToTensors(const inference::InferenceOutput& output,
                                                  size_t keypoints_per_detection) {
  const auto n = static_cast<int64_t>(output.detections.size());
  const auto k = static_cast<int64_t>(keypoints_per_detection);
  std::vector<float> boxes, scores, keypoints, keypoint_scores;
  std::vector<int32_t> class_ids;
  std::vector<std::string> labels, texts;
  for (const Detection& d : output.detections) {
    boxes.insert(boxes.end(), {d.box.x1, d.box.y1, d.box.x2, d.box.y2});
    scores.push_back(d.score);
    class_ids.push_back(d.class_id);
    labels.push_back(d.label);
    texts.push_back(d.text);
    for (int64_t i = 0; i < k; ++i) {
      const bool have = i < static_cast<int64_t>(d.keypoints.size());
      keypoints.push_back(have ? d.keypoints[i].x : 0.0f);
      keypoints.push_back(have ? d.keypoints[i].y : 0.0f);
      keypoint_scores.push_back(have ? d.keypoints[i].score : 0.0f);
    }
  }
  return {protocol::Tensor::FromFloats("boxes", {n, 4}, boxes),
          protocol::Tensor::FromFloats("scores", {n}, scores),
          protocol::Tensor::FromInt32s("class_ids", {n}, class_ids),
          protocol::Tensor::FromBytes("labels", labels),
          protocol::Tensor::FromFloats("keypoints", {n, k, 2}, keypoints),
          protocol::Tensor::FromFloats("keypoint_scores", {n, k}, keypoint_scores),
          protocol::Tensor::FromBytes("texts", texts)};
}

absl::StatusOr<std::vector<Detection>> DetectionsFromTensors(
    const std::vector<protocol::Tensor>& outputs, const std::vector<std::string>& keypoint_names) {
  const protocol::Tensor* boxes = FindTensor(outputs, "boxes");
  const protocol::Tensor* scores = FindTensor(outputs, "scores");
  if (boxes == nullptr || scores == nullptr) {
    return absl::InvalidArgumentError("response lacks the 'boxes' and 'scores' outputs");
  }
  ASSIGN_OR_RETURN(std::vector<float> box_values, boxes->Values<float>());
  ASSIGN_OR_RETURN(std::vector<float> score_values, scores->Values<float>());
  const size_t n = score_values.size();
  if (box_values.size() != n * 4) {
    return absl::InvalidArgumentError("'boxes' must have 4 values per score");
  }
  std::vector<int32_t> class_ids(n, 0);
  if (const protocol::Tensor* t = FindTensor(outputs, "class_ids")) {
    ASSIGN_OR_RETURN(class_ids, t->Values<int32_t>());
  }
  std::vector<std::string> labels(n);
  if (const protocol::Tensor* t = FindTensor(outputs, "labels")) {
    ASSIGN_OR_RETURN(std::vector<std::string_view> views, t->BytesElements());
    labels.assign(views.begin(), views.end());
  }
  std::vector<float> keypoints;
  size_t k = 0;
  if (const protocol::Tensor* t = FindTensor(outputs, "keypoints")) {
    ASSIGN_OR_RETURN(keypoints, t->Values<float>());
    if (t->shape.size() == 3 && t->shape[1] >= 0) k = static_cast<size_t>(t->shape[1]);
  }
  std::vector<float> keypoint_scores(n * k, 1.0f);
  if (const protocol::Tensor* t = FindTensor(outputs, "keypoint_scores")) {
    ASSIGN_OR_RETURN(keypoint_scores, t->Values<float>());
  }
  std::vector<std::string> texts(n);
  if (const protocol::Tensor* t = FindTensor(outputs, "texts")) {
    ASSIGN_OR_RETURN(std::vector<std::string_view> views, t->BytesElements());
    texts.assign(views.begin(), views.end());
  }
  if (class_ids.size() != n || labels.size() != n || keypoints.size() != n * k * 2 ||
      keypoint_scores.size() != n * k || texts.size() != n) {
    return absl::InvalidArgumentError("detection outputs disagree on the number of detections");
  }
  std::vector<Detection> detections(n);
  for (size_t i = 0; i < n; ++i) {
    Detection& d = detections[i];
    d.box = {box_values[4 * i], box_values[4 * i + 1], box_values[4 * i + 2],
             box_values[4 * i + 3]};
    d.score = score_values[i];
    d.class_id = class_ids[i];
    d.label = labels[i];
    d.text = texts[i];
    for (size_t j = 0; j < k; ++j) {
      d.keypoints.push_back({j < keypoint_names.size() ? keypoint_names[j] : absl::StrCat(j),
                             keypoints[(i * k + j) * 2], keypoints[(i * k + j) * 2 + 1],
                             keypoint_scores[i * k + j]});
    }
  }
  return detections;
}

nlohmann::json DetectionsToJson(const std::vector<Detection>& detections) {
  nlohmann::json out = nlohmann::json::array();
  for (const Detection& d : detections) {
    nlohmann::json j = {{"label", d.label},
                        {"class_id", d.class_id},
                        {"score", Round(d.score)},
                        {"box",
                         {{"x1", Round(d.box.x1)},
                          {"y1", Round(d.box.y1)},
                          {"x2", Round(d.box.x2)},
                          {"y2", Round(d.box.y2)}}}};
    if (!d.keypoints.empty()) {
      nlohmann::json keypoints = nlohmann::json::array();
      for (const auto& k : d.keypoints) {
        keypoints.push_back(
            {{"name", k.name}, {"x", Round(k.x)}, {"y", Round(k.y)}, {"score", Round(k.score)}});
      }
      j["keypoints"] = std::move(keypoints);
    }
    if (!d.text.empty()) j["text"] = d.text;
    out.push_back(std::move(j));
  }
  return out;
}

absl::StatusOr<std::vector<Detection>> DetectionsFromJson(const nlohmann::json& json) {
  if (!json.is_array()) return absl::InvalidArgumentError("'detections' must be an array");
  std::vector<Detection> detections;
  try {
    for (const nlohmann::json& j : json) {
      Detection d;
      d.label = j.at("label").get<std::string>();
      d.class_id = j.value("class_id", 0);
      d.score = j.at("score").get<float>();
      const nlohmann::json& b = j.at("box");
      d.box = {b.at("x1").get<float>(), b.at("y1").get<float>(), b.at("x2").get<float>(),
               b.at("y2").get<float>()};
      for (const nlohmann::json& k : j.value("keypoints", nlohmann::json::array())) {
        d.keypoints.push_back({k.at("name").get<std::string>(), k.at("x").get<float>(),
                               k.at("y").get<float>(), k.value("score", 1.0f)});
      }
      d.text = j.value("text", "");
      detections.push_back(std::move(d));
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("malformed detection: ", e.what()));
  }
  return detections;
}

}  // namespace heteroaccel::api

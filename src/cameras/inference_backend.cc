#include "cameras/inference_backend.h"

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "api/detections_codec.h"

namespace heteroaccel::cameras {
namespace {

double Number(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_number() ? it->get<double>() : 0.0;
}

std::string String(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

pipeline::Detection ToPipeline(const inference::Detection& d) {
  pipeline::Detection out;
  out.box = {d.box.x1, d.box.y1, d.box.x2, d.box.y2};
  out.score = d.score;
  out.label = absl::AsciiStrToLower(d.label);  // "Person" -> "person" (pipeline/types.h)
  out.text = d.text;
  out.keypoints.reserve(d.keypoints.size());
  for (const inference::Keypoint& k : d.keypoints) {
    out.keypoints.push_back({k.name, {k.x, k.y}, k.score});
  }
  return out;
}

}  // namespace

absl::StatusOr<InferAnswer> ParseV1Answer(std::string_view body) {
  const nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return absl::InternalError("the /v1 answer is not a JSON object");
  auto detections = json.find("detections");
  if (detections == json.end()) return absl::InternalError("the /v1 answer has no detections");
  auto parsed = api::DetectionsFromJson(*detections);
  if (!parsed.ok()) {
    return absl::InternalError(
        absl::StrCat("the /v1 answer's detections: ", parsed.status().message()));
  }
  InferAnswer answer;
  answer.detections.reserve(parsed->size());
  for (const inference::Detection& d : *parsed) answer.detections.push_back(ToPipeline(d));
  if (auto image = json.find("image"); image != json.end() && image->is_object()) {
    answer.width = static_cast<int>(Number(*image, "width"));
    answer.height = static_cast<int>(Number(*image, "height"));
  }
  if (auto served = json.find("served_by"); served != json.end() && served->is_object()) {
    answer.provenance.node = String(*served, "node");
    answer.provenance.device = String(*served, "device");
    answer.provenance.variant = String(*served, "variant");
    answer.provenance.queue_ms = Number(*served, "queue_ms") + Number(*served, "server_queue_ms");
    answer.provenance.compute_ms = Number(*served, "compute_ms");
  }
  return answer;
}

}  // namespace heteroaccel::cameras

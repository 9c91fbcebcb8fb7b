// InferClient: sends one image to an agent (or, later, a server) and returns the
// detections and who served them. Used by `heteroaccel infer`, the demo and the
// end-to-end tests.
//
// One keep-alive connection; not thread-safe (use one client per thread).
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "http/client.h"
#include "inference/detection.h"

namespace heteroaccel::client {

enum class Protocol {
  kV2Binary,  // Open Inference Protocol, binary tensor extension (the default)
  kV2Json,    // Open Inference Protocol, image bytes as a JSON BYTES string
  kV1,        // POST /v1/infer/{model} with the image file as the body
};
absl::StatusOr<Protocol> ParseProtocol(std::string_view name);

struct InferOptions {
  std::string model;
  std::string variant;  // "" = default
  std::string device;   // "" = the agent chooses
  Protocol protocol = Protocol::kV2Binary;
  // Scheduling hints for a server: priority (higher first), timeout_ms.
  std::optional<int> priority;
  std::optional<int> timeout_ms;
};

struct InferResult {
  std::vector<inference::Detection> detections;
  nlohmann::json served_by;  // node, device, device_kind, emulated, variant, queue_ms, compute_ms
  double round_trip_ms = 0;
};

class InferClient {
 public:
  static absl::StatusOr<std::unique_ptr<InferClient>> Create(const std::string& target);
  // `image` is an encoded JPEG or PNG. HTTP errors come back as Statuses carrying
  // the server's message.
  absl::StatusOr<InferResult> Infer(const InferOptions& options, std::string image);
  // The keypoints `model` joins when drawn (its metadata's "skeleton"), for
  // render::DrawDetections. Fetched once per model, like the keypoint names.
  absl::StatusOr<inference::Skeleton> Skeleton(const std::string& model);

 private:
  explicit InferClient(std::unique_ptr<http::Client> http) : http_(std::move(http)) {}
  // What reading and drawing a type's outputs needs, from its metadata.
  struct ModelDescription {
    std::vector<std::string> keypoint_names;
    inference::Skeleton skeleton;
  };
  // Fetched once per model.
  absl::StatusOr<const ModelDescription*> Describe(const std::string& model);

  std::unique_ptr<http::Client> http_;
  std::map<std::string, ModelDescription> descriptions_;
};

// A readable table of detections, one per line.
std::string FormatDetections(const InferResult& result);

}  // namespace heteroaccel::client

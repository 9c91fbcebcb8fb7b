// InferClient: sends one image to an agent or a server and returns the
// detections and who served them. Used by `heteroaccel infer`, the demo, the
// camera replay and the end-to-end tests.
//
// A request may carry an id (InferOptions::id, the v2 request "id"); agents and
// servers echo it in the answer (InferResult::id), so a caller that re-sends a
// request to another server replica can tell which request an answer is for.
//
// One keep-alive connection; not thread-safe (use one client per thread).
#pragma once

#include <chrono>
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
  // The v2 request "id" ("" = none). Not sent with kV1, which has no id.
  std::string id;
  // The camera the frame is from ("" = none), sent as the scheduling hint
  // "camera": a server shares its devices fairly between cameras. 1 to 64 of
  // [A-Za-z0-9_.-] (the server refuses anything else with a 400).
  std::string camera;
};

struct InferResult {
  std::vector<inference::Detection> detections;
  nlohmann::json served_by;  // node, device, device_kind, emulated, variant, queue_ms, compute_ms
  double round_trip_ms = 0;
  std::string id;  // the answer's v2 "id" (the request's, echoed); "" for kV1
};

class InferClient {
 public:
  // `timeout` bounds each request (connect + send + receive); DeadlineExceeded
  // past it.
  static absl::StatusOr<std::unique_ptr<InferClient>> Create(
      const std::string& target, std::chrono::milliseconds timeout = std::chrono::seconds(30));
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

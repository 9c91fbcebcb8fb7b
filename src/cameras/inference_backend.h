// InferenceBackend: how a camera pipeline asks the cluster to run a model on
// an image. The server implements it over its Dispatcher (every camera frame
// goes through the same scheduler as a client's POST /v1/infer); tests may
// use a fake.
//
// The answer is the /v1/infer JSON document (see agent's infer handlers and
// api/detections_codec.h):
//   {"model", "image": {"width", "height"},
//    "served_by": {"node", "device", "variant", "queue_ms", "compute_ms",
//                  "server_queue_ms", ...},
//    "detections": [{"label", "score", "box": {...}, "keypoints": [...], "text"}]}
// ParseV1Answer is the one reader of it for camera pipelines; it lower-cases
// labels (pipeline::Detection's classes are lower case: "person", whatever
// the model's label file says).
//
// Thread-safety: Infer may be called from any thread and calls `done` exactly
// once, from any thread (possibly before Infer returns).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "pipeline/types.h"

namespace heteroaccel::cameras {

struct InferCall {
  std::string camera;
  std::string type;     // the inference type: object, face, pose, hand, gesture, text
  std::string variant;  // "" = the scheduler's choice per device
  std::shared_ptr<const std::string> jpeg;            // the encoded image
  std::optional<std::chrono::milliseconds> deadline;  // answered DeadlineExceeded past it
  int priority = 0;                                   // higher first
  std::string node_group;  // run only on devices of nodes in this group ("" = any)
};

struct InferAnswer {
  std::vector<pipeline::Detection> detections;
  pipeline::Provenance provenance;  // queue_ms: the server's queue plus the device's
  int width = 0;                    // of the image as the model read it
  int height = 0;
};

using InferDoneFn = std::function<void(absl::StatusOr<InferAnswer>)>;

class InferenceBackend {
 public:
  virtual ~InferenceBackend() = default;
  virtual void Infer(InferCall call, InferDoneFn done) = 0;
};

// Reads a /v1/infer answer. Internal (naming what is wrong) when it is not
// one; never throws.
absl::StatusOr<InferAnswer> ParseV1Answer(std::string_view body);

}  // namespace heteroaccel::cameras

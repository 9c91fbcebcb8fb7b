// The server core's request and result values: what a front door (HTTP or
// gRPC) submits, and the typed result it turns into its own wire format. Plain
// data; see dispatcher.h for the lifecycle.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "scheduler/types.h"

namespace heteroaccel::server {

// Scheduling hints a client may attach (server/hints.h parses them).
struct Hints {
  int priority = 0;  // higher first (named classes: scheduler/types.h kPriority*)
  std::optional<std::chrono::milliseconds> timeout;
  std::string camera;  // the sending camera, for fair queueing ("" = untagged)
  std::optional<scheduler::DeviceKey> device;  // run only there
  std::string device_kind;                     // run only on this kind ("" = any)
  std::string group;  // run only on devices of nodes in this group ("" = any)
  // Run only on devices serving this variant of the type ("" = the server picks
  // per device): a KServe model version, or a camera's detect block's variant.
  std::string variant;
  // Whether the scheduler may run a faster variant under load, within the
  // operator's accuracy floor (never with a variant set).
  bool degrade = true;
};

struct InferWork {
  std::string model;
  bool v1 = false;  // the body is an image file (POST /v1/infer) instead of a v2 request
  std::shared_ptr<const std::string> body;
  std::optional<size_t> header_length;  // binary tensor extension
  std::string content_type;
  Hints hints;
};

// How a request ended. On success `body` is the agent's answer as it sent it
// (it already names who served it, the server's queue time and the attempts);
// on failure `status` carries the error and its code for both front doors.
struct InferResult {
  absl::Status status;
  std::string body;
  std::string content_type;
  std::optional<size_t> header_length;
  std::optional<scheduler::DeviceKey> served_by;
  std::string variant;
  int attempts = 0;
  double queue_ms = 0;  // arrival to the last binding (0 when never bound)
};

using InferDone = std::function<void(InferResult)>;

}  // namespace heteroaccel::server

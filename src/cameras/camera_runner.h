// CameraRunner: one camera's pipeline, running. It owns the camera's
// FrameSource and two threads:
//
//   Step 1  Capture thread: takes frames from the source (video/frame_source.h).
//           For each detect block whose `every` selects the frame it encodes
//           the frame as JPEG once (quality Options::jpeg_quality; the cv::Mat
//           is kept for crops and snapshots) and submits one InferCall per
//           detect block through the InferenceBackend (in the server: the
//           Dispatcher, so every frame is scheduled like a client's request).
//           At most Options::window frames are in flight (submitted and not yet
//           processed): a live source's frame finding the window full is
//           skipped (`backpressure`); a file (media time) waits for room.
//   Step 2  Answers arrive on any thread into a reorder buffer keyed by the
//           frame's sequence number.
//   Step 3  Pipeline thread: takes frames back in capture order and runs the
//           blocks in topological order: filter -> track -> crop_infer (crops
//           of confirmed tracks matched in this frame, of the block's classes,
//           at most Options::max_crops per frame, each track at most every
//           Options::crop_interval; submitted in parallel, waited for at most
//           Options::crop_wait) -> colour (DominantColour once per track every
//           Options::colour_interval) -> rules -> events. A frame whose detect
//           failed counts `deadline` (DeadlineExceeded) or `inference_error`
//           and its branch is not run (the tracker bridges the gap by time).
//           A file (media time) instead waits for the cluster: a detect
//           answered Unavailable or NotFound (no agent, or none serving the
//           type yet) is sent again after a back-off (0.5 s doubling to 5 s),
//           so a file camera started with the server loses no frame.
//   Step 4  Events: a snapshot JPEG (the frame with the event's box and label
//           drawn) when an event is new or its snapshot frame is this frame;
//           EventStore::Upsert; then EventOutputs::stream (the SSE hub), and
//           for rules feeding a sink block MQTT and/or the webhook.
//
// Counting: every frame the source captured ends as exactly one of: skipped
// by the source (rate_limit, backpressure, decode_error), skipped by the
// pipeline (backpressure, deadline, inference_error; reported to the source's
// CountSkip so all skip counters live there), processed, or still pending or
// in flight. Frames `every` leaves undetected count as processed.
//
// Stop() stops the source, waits for in-flight answers at most
// Options::stop_wait, ends open events (Rule::Finish) and joins the threads.
// A file that ends is processed to its last frame, then its events end and
// State() says `ended`.
//
// Thread-safety: every public method is thread-safe. Backend callbacks may
// arrive after Stop(); they find the shared state alive and are ignored.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "cameras/camera_metrics.h"
#include "cameras/inference_backend.h"
#include "pipeline/spec/spec.h"
#include "video/frame_source.h"

namespace heteroaccel::events {
class EventStore;
class MqttPublisher;
}  // namespace heteroaccel::events

namespace heteroaccel::cameras {
namespace internal {
class Graph;
}

// Where events go. `store` is required; the others may be empty/null.
struct EventOutputs {
  events::EventStore* store = nullptr;
  events::MqttPublisher* mqtt = nullptr;  // for rules feeding a sink with mqtt: true
  // (url, event message): for rules feeding a sink with a webhook.
  std::function<void(const std::string& url, const nlohmann::json& message)> webhook;
  // Every stored change (the API's event JSON, events::ToJson) for the live stream.
  std::function<void(const nlohmann::json& event)> stream;
};

struct RunnerOptions {
  size_t window = 4;  // frames in flight per camera
  int jpeg_quality = 85;
  size_t max_crops = 4;  // second-stage crops per frame and crop_infer block
  std::chrono::milliseconds crop_interval{500};
  std::chrono::milliseconds crop_wait{2000};
  std::chrono::milliseconds colour_interval{1000};
  std::chrono::milliseconds stop_wait{3000};
  int priority = 0;  // of every InferCall
  video::FrameSource::Options source;
};

class CameraRunner {
 public:
  // The spec must come from ParseCameraSpec. InvalidArgument when its source
  // or a rule cannot be made. `backend`, `outputs`' targets and `metrics`
  // must outlive the runner.
  static absl::StatusOr<std::unique_ptr<CameraRunner>> Create(const pipeline::CameraSpec& spec,
                                                              RunnerOptions options,
                                                              InferenceBackend& backend,
                                                              EventOutputs outputs,
                                                              CameraMetrics* metrics);
  ~CameraRunner();  // Stop()s
  CameraRunner(const CameraRunner&) = delete;
  CameraRunner& operator=(const CameraRunner&) = delete;

  absl::Status Start();
  void Stop();
  bool running() const;

  // Push sources: one encoded image (video::FrameSource::Push). Unavailable
  // (429 upstream) while the window is full.
  absl::Status Push(std::string_view encoded_image);

  // The latest frame submitted for detection, as JPEG; nullptr before the first.
  std::shared_ptr<const std::string> LatestFrame() const;

  // {"state": "running"|"stopped"|"ended"|..., "source": {phase, last_error,
  //  reconnects, next_retry_ms, width, height, source_fps}, "frames": {captured,
  //  taken, processed, pending, in_flight, skipped: {reason: n}}, "fps":
  //  {captured, processed} (over the last few seconds), "cpu_ms_per_frame",
  //  "detection_ms" (mean), "last_error", "last_event_ms", "events": n,
  //  "open_events": n}
  nlohmann::json StateJson() const;
  // {"blocks": [{id, block, inputs, in, out, errors, state}], "edges": [[from, to]]}
  nlohmann::json PipelineJson() const;
  // Copies the source's totals into the Prometheus counters (a collect hook).
  void ExportMetrics();
  // Removes this camera's series (when it is deleted).
  void RemoveMetrics();

  const pipeline::CameraSpec& spec() const { return spec_; }

  struct Shared;  // state shared with in-flight callbacks

 private:
  CameraRunner(pipeline::CameraSpec spec, RunnerOptions options, InferenceBackend& backend,
               EventOutputs outputs, CameraMetrics* metrics);
  void CaptureLoop();
  void PipelineLoop();

  const pipeline::CameraSpec spec_;
  const RunnerOptions options_;
  InferenceBackend& backend_;
  const EventOutputs outputs_;
  CameraMetrics* const metrics_;
  std::unique_ptr<video::FrameSource> source_;
  std::shared_ptr<Shared> shared_;
  std::unique_ptr<internal::Graph> graph_;

  absl::Mutex metrics_mu_;  // ExportMetrics vs RemoveMetrics
  bool metrics_removed_ ABSL_GUARDED_BY(metrics_mu_) = false;
  absl::Mutex threads_mu_;
  bool started_ ABSL_GUARDED_BY(threads_mu_) = false;
  std::thread capture_ ABSL_GUARDED_BY(threads_mu_);
  std::thread pipeline_ ABSL_GUARDED_BY(threads_mu_);
};

}  // namespace heteroaccel::cameras

// The blocks of one camera's pipeline, made once from its CameraSpec and run
// frame after frame on the runner's pipeline thread (camera_runner.h, Step 3).
// Internal to ha_cameras.
//
// Per frame, the blocks run in phases, each in topological order: filter,
// track, crop_infer, colour, rules. A block runs on a frame when its input
// produced a value for it (a detect whose `every` skipped the frame, or whose
// inference failed, produces none, so nothing downstream of it runs).
// Second-stage results (crop_infer keypoints/texts, colours) are gathered per
// track block into the RuleInputs its rules see, whichever of the track's
// children a rule hangs from.
//
// Thread-compatible: called from the pipeline thread only, except Stats(),
// which copies counters under their own mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <opencv2/core/mat.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "cameras/inference_backend.h"
#include "pipeline/rules/rules.h"
#include "pipeline/spec/spec.h"
#include "pipeline/tracking/tracker.h"

namespace heteroaccel::cameras::internal {

struct BlockStats {
  uint64_t in = 0;      // frames (or crops) the block received
  uint64_t out = 0;     // items it produced: detections, tracks, results, events
  uint64_t errors = 0;  // failed inferences (detect, crop_infer)
  uint64_t runs = 0;    // frames it ran on
};

struct GraphOptions {
  size_t max_crops = 4;
  double crop_interval_s = 0.5;
  std::chrono::milliseconds crop_wait{2000};
  double colour_interval_s = 1.0;
  int jpeg_quality = 85;
  int priority = 0;
};

// A rule's event, with what the runner needs to deliver it.
struct RuleEvent {
  pipeline::Event event;
  std::vector<const pipeline::SinkParams*> sinks;  // sink blocks fed by the rule
  std::optional<pipeline::Rect> current_box;       // the track's box in this frame
};

class Graph {
 public:
  // InvalidArgument when a tracker or a rule cannot be made.
  static absl::StatusOr<std::unique_ptr<Graph>> Create(const pipeline::CameraSpec& spec,
                                                       GraphOptions options,
                                                       InferenceBackend& backend);
  ~Graph();

  // The detect blocks, in document order: the capture thread submits one call
  // per block whose `every` selects the frame.
  struct Detect {
    size_t block = 0;  // index into spec.blocks
    pipeline::DetectParams params;
  };
  const std::vector<Detect>& detects() const { return detects_; }

  // Runs one frame. `answers[i]` is detect i's answer (nullopt: not run or
  // failed). Appends the rules' events.
  void Run(const cv::Mat& bgr, uint64_t frame_index, double time,
           const std::vector<std::optional<InferAnswer>>& answers, std::vector<RuleEvent>& out);
  // Counts a failed detect (block errors).
  void CountDetectError(size_t detect);
  // Ends open events at `time`.
  void Finish(double time, std::vector<RuleEvent>& out);

  // Per block counters (by spec.blocks index) and line counters
  // (rule id -> [{direction, total}]), copied under a lock.
  std::vector<BlockStats> Stats() const;
  std::map<std::string, std::vector<pipeline::RuleCounter>> RuleCounters() const;
  size_t open_events() const;

 private:
  struct Node;
  Graph(const pipeline::CameraSpec& spec, GraphOptions options, InferenceBackend& backend);
  void RunCropInfer(Node& node, const cv::Mat& bgr, double time);
  void RunColour(Node& node, const cv::Mat& bgr, double time);
  void Count(size_t block, uint64_t in, uint64_t out, uint64_t errors = 0);

  const pipeline::CameraSpec spec_;
  const GraphOptions options_;
  InferenceBackend& backend_;
  std::vector<Detect> detects_;
  std::vector<std::unique_ptr<Node>> nodes_;  // by spec.blocks index
  std::vector<size_t> order_;                 // topological

  mutable std::mutex stats_mu_;
  std::vector<BlockStats> stats_;                                            // guarded by stats_mu_
  std::map<std::string, std::vector<pipeline::RuleCounter>> rule_counters_;  // stats_mu_
  size_t open_events_ = 0;                                                   // stats_mu_
};

// Encodes `bgr` as JPEG; "" when OpenCV cannot.
std::string EncodeJpeg(const cv::Mat& bgr, int quality);

}  // namespace heteroaccel::cameras::internal

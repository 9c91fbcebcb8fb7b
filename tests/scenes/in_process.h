// Runs a camera's pipeline in this process on a video file: every frame through
// the real object detector (src/inference), then the pipeline's filter, track
// (pipeline::Tracker) and rule blocks (pipeline::MakeRule) in the document's
// order, as the camera runner does but without the scheduler. Used where the
// accuracy of detector + tracker + rules is measured apart from the serving path.
// Supported blocks: detect (every 1), filter, track, the rules, sink (ignored);
// others are Unimplemented.
// Thread-compatible.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "inference/model.h"
#include "pipeline/spec/spec.h"
#include "pipeline/types.h"

namespace heteroaccel::scenes {

struct InProcessResult {
  std::vector<pipeline::Event> events;        // every copy, in emission order
  std::vector<pipeline::FrameResult> frames;  // the detector's output per frame
  // The first track block's tracks after each frame (for diagnostics).
  std::vector<std::vector<pipeline::Track>> tracks;
  int frame_count = 0;
};

absl::StatusOr<InProcessResult> RunInProcess(const pipeline::CameraSpec& camera,
                                             const std::string& video_path,
                                             inference::Model& detector);

// The detector's output for one frame as the pipeline sees it (labels lower case).
pipeline::FrameResult ToFrameResult(const inference::InferenceOutput& out, uint64_t index,
                                    double time);

}  // namespace heteroaccel::scenes

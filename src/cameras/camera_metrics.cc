#include "cameras/camera_metrics.h"

namespace heteroaccel::cameras {

CameraMetrics::CameraMetrics(metrics::Registry& r)
    : captured(r.AddCounter("heteroaccel_camera_frames_captured_total",
                            "Frames the camera's source decoded", {"camera"})),
      processed(r.AddCounter("heteroaccel_camera_frames_processed_total",
                             "Frames the camera's pipeline finished", {"camera"})),
      skipped(r.AddCounter("heteroaccel_camera_frames_skipped_total",
                           "Frames captured and not processed, by reason", {"camera", "reason"})),
      detection_seconds(r.AddHistogram(
          "heteroaccel_camera_detection_seconds",
          "From a frame's submission to its detect answer (queue, transfer and compute)",
          {"camera"}, {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})),
      frame_to_event_seconds(r.AddHistogram(
          "heteroaccel_camera_frame_to_event_seconds",
          "From the capture of the frame that raised a new event to the event stored", {"camera"},
          {0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})),
      events(r.AddCounter("heteroaccel_camera_events_total", "New events raised, by type",
                          {"camera", "type"})),
      up(r.AddGauge("heteroaccel_camera_up", "1 while the camera's pipeline runs", {"camera"})),
      reconnects(r.AddCounter("heteroaccel_camera_reconnects_total",
                              "Attempts to reopen the camera's source", {"camera"})),
      cpu_seconds(r.AddCounter("heteroaccel_camera_pipeline_cpu_seconds_total",
                               "CPU time of the camera's pipeline threads (encode, track, rules, "
                               "events)",
                               {"camera"})),
      line_crossings(r.AddCounter("heteroaccel_camera_line_crossings_total",
                                  "Objects that crossed a line_crossing rule's line, by direction",
                                  {"camera", "rule", "direction"})) {}

}  // namespace heteroaccel::cameras

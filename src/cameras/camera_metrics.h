// The camera pipelines' Prometheus metrics, declared in one place. Every
// series carries the label `camera`; the registry is injected (the server's).
//
//   heteroaccel_camera_frames_captured_total{camera}          frames the source decoded
//   heteroaccel_camera_frames_processed_total{camera}         frames the pipeline finished
//   heteroaccel_camera_frames_skipped_total{camera,reason}    rate_limit, backpressure,
//                                                             decode_error, deadline,
//                                                             inference_error
//   heteroaccel_camera_detection_seconds{camera}              submit -> detect answer
//   heteroaccel_camera_frame_to_event_seconds{camera}         capture -> event stored (new events)
//   heteroaccel_camera_events_total{camera,type}              new events
//   heteroaccel_camera_up{camera}                             1 while running
//   heteroaccel_camera_reconnects_total{camera}               reopen attempts of the source
//   heteroaccel_camera_pipeline_cpu_seconds_total{camera}     CPU time of the camera's threads
//   heteroaccel_camera_line_crossings_total{camera,rule,direction}
//
// Totals that live in the source's counters are copied at each scrape
// (CameraRunner::ExportMetrics, through a collect hook). Thread-safe.
#pragma once

#include "metrics/metrics.h"

namespace heteroaccel::cameras {

struct CameraMetrics {
  explicit CameraMetrics(metrics::Registry& registry);

  metrics::Family<metrics::Counter>& captured;
  metrics::Family<metrics::Counter>& processed;
  metrics::Family<metrics::Counter>& skipped;
  metrics::Family<metrics::Histogram>& detection_seconds;
  metrics::Family<metrics::Histogram>& frame_to_event_seconds;
  metrics::Family<metrics::Counter>& events;
  metrics::Family<metrics::Gauge>& up;
  metrics::Family<metrics::Counter>& reconnects;
  metrics::Family<metrics::Counter>& cpu_seconds;
  metrics::Family<metrics::Counter>& line_crossings;
};

}  // namespace heteroaccel::cameras

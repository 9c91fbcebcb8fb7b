// FrameSource: one camera's frames, read on its own capture thread and handed
// to one consumer (the camera's pipeline runner) through a pull API with
// backpressure.
//
// Two delivery modes, chosen by the SourceSpec (video/source.h):
//
// - Media time (a file, not realtime). Every frame, in order, nothing
//   dropped: the decoder runs ahead of the consumer by at most
//   Options::file_queue frames and then waits. VideoFrame::time is media time
//   (index / the file's fps; the stream's timestamps when the file has no
//   usable fps). With `loop` the file restarts at its end and index and time
//   keep increasing; without it the phase becomes `ended` once the last frame
//   is read, and Next() returns OutOfRange after the queued frames.
//
// - Live (rtsp, mjpeg, a realtime file, push). Frames are read continuously
//   (a realtime file at its own frame rate) and only the newest is kept. The
//   consumer takes it at most `fps` times per second (spec.fps; unset: no
//   limit). VideoFrame::time is capture time: seconds since Start(). Every
//   decoded frame that is not taken is counted once, with the reason it was
//   dropped: `rate_limit` when a newer frame replaced it while the rate did not
//   allow a take, `backpressure` when the rate allowed it but the consumer did
//   not come before the next frame. A stream that cannot be opened, or stops
//   delivering, is reopened after a back-off (Options::initial_backoff
//   doubling up to max_backoff, back to the initial one after a good frame);
//   State() shows `reconnecting`, the last error and the next retry. The
//   newest frame decoded before a drop stays available to Next().
//
// Counting (Counters()): `captured` is every frame decoded; for live sources
//   captured == taken + skipped[rate_limit] + skipped[backpressure] + pending
// holds exactly at every snapshot (`pending` is the frame(s) waiting to be
// taken). `decode_error` counts reads that produced no frame (a corrupt
// packet, a pushed body that is no image) and is not part of that sum.
// The consumer reports frames it took and then dropped (`deadline`,
// `inference_error`) with CountSkip(), so that every counter of the camera
// lives here.
//
// Stop() returns within Options::open_timeout (a blocked open) or read_timeout
// (a blocked read): OpenCV's FFmpeg timeouts bound every blocking call, and
// nothing else blocks the capture thread.
//
// Frames share nothing with the source once returned (a fresh cv::Mat per
// decoded frame; no copies on the way). Thread-safety: all methods are
// thread-safe; Next() is meant for a single consumer thread.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <opencv2/core/mat.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "video/source.h"

namespace heteroaccel::video {

struct VideoFrame {
  cv::Mat bgr;         // 8-bit, 3 channels, BGR
  uint64_t index = 0;  // per source, from 0; counts every decoded frame (gaps = frames not taken)
  double time = 0;     // seconds: media time (files) or since Start() (live); see above
  std::chrono::steady_clock::time_point captured;  // when it was decoded (or pushed)
  std::chrono::steady_clock::time_point taken;     // when Next() handed it out
};

enum class SkipReason { kRateLimit, kBackpressure, kDecodeError, kDeadline, kInferenceError };
inline constexpr size_t kSkipReasonCount = 5;
// "rate_limit", "backpressure", "decode_error", "deadline", "inference_error".
std::string_view SkipReasonName(SkipReason reason);

struct SourceCounters {
  uint64_t captured = 0;    // frames decoded
  uint64_t taken = 0;       // frames handed out by Next()
  uint64_t pending = 0;     // decoded, not taken yet
  uint64_t reconnects = 0;  // reopen attempts after a failed open or a dropped stream
  std::array<uint64_t, kSkipReasonCount> skipped{};
  uint64_t Skipped(SkipReason reason) const { return skipped[static_cast<size_t>(reason)]; }
};

enum class SourcePhase { kConnecting, kRunning, kReconnecting, kEnded, kStopped };
// "connecting", "running", "reconnecting", "ended", "stopped".
std::string_view SourcePhaseName(SourcePhase phase);

struct SourceState {
  SourcePhase phase = SourcePhase::kStopped;  // kStopped before Start() and after Stop()
  std::string last_error;                     // the latest failure, kept after recovery
  uint64_t reconnects = 0;
  // While reconnecting: when the next attempt starts, and the wait before it.
  std::optional<std::chrono::steady_clock::time_point> next_retry;
  std::chrono::milliseconds backoff{0};
  // Of the open stream (0 until known).
  int width = 0;
  int height = 0;
  double source_fps = 0;
};

class FrameSource {
 public:
  struct Options {
    size_t file_queue = 4;  // frames decoded ahead of the consumer (media time)
    // Opening an RTSP stream includes FFmpeg's stream probing (about 3 s for
    // H.264 from gst-rtsp-server), which this timeout also bounds.
    std::chrono::milliseconds open_timeout{10000};
    std::chrono::milliseconds read_timeout{5000};
    std::chrono::milliseconds initial_backoff{500};
    std::chrono::milliseconds max_backoff{30000};
    size_t max_push_bytes = 16u << 20;          // largest encoded image Push() accepts
    uint64_t max_push_pixels = 8192ull * 8192;  // largest PNG/JPEG (by its header) Push() decodes
    std::string thread_name = "video";          // the capture thread's name (15 bytes kept)
  };

  // Validates the options (not the location: a missing file or a dead camera
  // shows up in State() once started).
  static absl::StatusOr<std::unique_ptr<FrameSource>> Create(SourceSpec spec, Options options);
  static absl::StatusOr<std::unique_ptr<FrameSource>> Create(SourceSpec spec) {
    return Create(std::move(spec), Options());
  }
  ~FrameSource();  // Stop()s
  FrameSource(const FrameSource&) = delete;
  FrameSource& operator=(const FrameSource&) = delete;

  // Starts the capture thread (none for push). Once; FailedPrecondition after.
  absl::Status Start();
  // Stops capturing and wakes a waiting Next(); idempotent.
  void Stop();

  // The next frame, waiting up to `timeout`. Errors: DeadlineExceeded (no
  // frame yet, e.g. while reconnecting), OutOfRange (a file ended and every
  // frame was taken), NotFound (the file cannot be opened), Cancelled (stopped),
  // FailedPrecondition (not started).
  absl::StatusOr<VideoFrame> Next(std::chrono::milliseconds timeout);

  // Push sources: decodes `encoded_image` (JPEG, PNG, ... through cv::imdecode)
  // and keeps it as the newest frame. `time` (seconds on the camera's time
  // line) defaults to the time since Start(). InvalidArgument (and a
  // decode_error count) for a body that is not an image; FailedPrecondition for
  // other source types or when not running.
  absl::Status Push(std::string_view encoded_image, std::optional<double> time = std::nullopt);

  // The consumer's own drops of taken frames (deadline, inference_error).
  void CountSkip(SkipReason reason, uint64_t count = 1);

  SourceState State() const;
  SourceCounters Counters() const;
  const SourceSpec& spec() const { return spec_; }

 private:
  using Clock = std::chrono::steady_clock;

  FrameSource(SourceSpec spec, Options options);
  // The capture thread: ReadFile for files, ReadStream for rtsp and mjpeg.
  void ReadFile();
  void ReadStream();
  // Hands a decoded frame over, blocking while a media-time queue is full;
  // false once stopping.
  bool Deliver(cv::Mat bgr, std::optional<double> media_time);
  void KeepNewest(VideoFrame frame, Clock::time_point now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  VideoFrame Take(Clock::time_point now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits until `until` or Stop(); false when stopping.
  bool SleepUntil(Clock::time_point until);
  void SetPhase(SourcePhase phase);
  void End(absl::Status why);
  // A failed open or a dropped stream: waits out the back-off (false when
  // stopping) and doubles it.
  bool BackOff(std::string error, std::chrono::milliseconds& backoff);
  double SinceStart(Clock::time_point t) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const SourceSpec spec_;
  const Options options_;
  const Clock::duration period_;  // 1 / spec.fps; zero: no rate limit

  mutable absl::Mutex mu_;
  absl::CondVar changed_;  // frames, space, phase or stop
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Clock::time_point start_ ABSL_GUARDED_BY(mu_);
  SourceState state_ ABSL_GUARDED_BY(mu_);
  absl::Status end_status_ ABSL_GUARDED_BY(mu_);  // why an ended source ended
  SourceCounters counters_ ABSL_GUARDED_BY(mu_);
  std::deque<VideoFrame> queue_ ABSL_GUARDED_BY(mu_);  // media time: up to file_queue; live: <= 1
  Clock::time_point next_take_ ABSL_GUARDED_BY(mu_);   // live: the rate allows a take from then
  absl::Mutex thread_mu_ ABSL_ACQUIRED_BEFORE(mu_);    // serialises Start() and Stop()
  std::thread thread_ ABSL_GUARDED_BY(thread_mu_);
};

}  // namespace heteroaccel::video

#include "video/frame_source.h"

#include <pthread.h>

#include <algorithm>
#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "spdlog/spdlog.h"

namespace heteroaccel::video {
namespace {

using Clock = std::chrono::steady_clock;

// Consecutive undecodable frames after which a live stream is reopened.
constexpr int kMaxDecodeErrorsInRow = 50;

std::unique_ptr<cv::VideoCapture> OpenCapture(const std::string& location,
                                              const FrameSource::Options& options, bool network,
                                              std::string& error) {
  std::vector<int> params;
  if (network) {
    params = {cv::CAP_PROP_OPEN_TIMEOUT_MSEC, static_cast<int>(options.open_timeout.count()),
              cv::CAP_PROP_READ_TIMEOUT_MSEC, static_cast<int>(options.read_timeout.count())};
  }
  auto capture = std::make_unique<cv::VideoCapture>();
  try {
    if (capture->open(location, cv::CAP_FFMPEG, params) && capture->isOpened()) return capture;
    error = network
                ? absl::StrCat("cannot open ", location,
                               " (unreachable, refused, not a video stream, or no answer within ",
                               options.open_timeout.count(), " ms)")
                : absl::StrCat("cannot open file \"", location,
                               "\" (missing, unreadable or not a video FFmpeg can decode)");
  } catch (const cv::Exception& e) {
    error = absl::StrCat("cannot open ", location, ": ", e.what());
  }
  return nullptr;
}

enum class ReadResult { kFrame, kDecodeError, kEnd };

// One frame into `bgr` (a fresh buffer: the previous one may be in use).
ReadResult ReadFrame(cv::VideoCapture& capture, cv::Mat& bgr) {
  bgr = cv::Mat();
  try {
    if (!capture.grab()) return ReadResult::kEnd;
    if (!capture.retrieve(bgr) || bgr.empty() || bgr.depth() != CV_8U) {
      return ReadResult::kDecodeError;
    }
    if (bgr.channels() == 1) cv::cvtColor(bgr, bgr, cv::COLOR_GRAY2BGR);
    if (bgr.channels() == 4) cv::cvtColor(bgr, bgr, cv::COLOR_BGRA2BGR);
    return bgr.channels() == 3 ? ReadResult::kFrame : ReadResult::kDecodeError;
  } catch (const cv::Exception&) {
    return ReadResult::kDecodeError;
  }
}

// Width x height from a PNG or JPEG header, so that a small image claiming a
// huge size is refused before decoding; nullopt for other formats or no header.
std::optional<std::pair<uint32_t, uint32_t>> ImageSize(std::string_view data) {
  auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(data[i])); };
  auto be16 = [&](size_t i) { return byte(i) << 8 | byte(i + 1); };
  auto be32 = [&](size_t i) { return be16(i) << 16 | be16(i + 2); };
  if (data.size() >= 24 && data.substr(0, 8) == "\x89PNG\r\n\x1a\n" &&
      data.substr(12, 4) == "IHDR") {
    return std::make_pair(be32(16), be32(20));
  }
  if (data.size() < 4 || byte(0) != 0xFF || byte(1) != 0xD8) return std::nullopt;
  for (size_t i = 2; i + 9 < data.size();) {
    if (byte(i) != 0xFF) return std::nullopt;
    const uint32_t marker = byte(i + 1);
    if (marker == 0xFF) {  // fill byte
      ++i;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {  // no length
      i += 2;
      continue;
    }
    if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
      return std::make_pair(be16(i + 7), be16(i + 5));  // SOFn: length, precision, height, width
    }
    i += 2 + be16(i + 2);
  }
  return std::nullopt;
}

double FiniteFps(double fps) { return std::isfinite(fps) && fps > 0 && fps <= 1000 ? fps : 0; }

}  // namespace

std::string_view SkipReasonName(SkipReason reason) {
  switch (reason) {
    case SkipReason::kRateLimit:
      return "rate_limit";
    case SkipReason::kBackpressure:
      return "backpressure";
    case SkipReason::kDecodeError:
      return "decode_error";
    case SkipReason::kDeadline:
      return "deadline";
    case SkipReason::kInferenceError:
      return "inference_error";
  }
  return "unknown";
}

std::string_view SourcePhaseName(SourcePhase phase) {
  switch (phase) {
    case SourcePhase::kConnecting:
      return "connecting";
    case SourcePhase::kRunning:
      return "running";
    case SourcePhase::kReconnecting:
      return "reconnecting";
    case SourcePhase::kEnded:
      return "ended";
    case SourcePhase::kStopped:
      return "stopped";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<FrameSource>> FrameSource::Create(SourceSpec spec, Options options) {
  if (options.file_queue < 1 || options.file_queue > 64) {
    return absl::InvalidArgumentError("FrameSource: file_queue must be in [1, 64]");
  }
  if (options.open_timeout.count() <= 0 || options.read_timeout.count() <= 0 ||
      options.open_timeout > std::chrono::minutes(10) ||
      options.read_timeout > std::chrono::minutes(10)) {
    return absl::InvalidArgumentError("FrameSource: timeouts must be in (0, 10 min]");
  }
  if (options.initial_backoff.count() <= 0 || options.max_backoff < options.initial_backoff) {
    return absl::InvalidArgumentError("FrameSource: need 0 < initial_backoff <= max_backoff");
  }
  if (spec.fps && !(std::isfinite(*spec.fps) && *spec.fps > 0 && *spec.fps <= 1000)) {
    return absl::InvalidArgumentError("FrameSource: fps must be > 0 and <= 1000");
  }
  if (spec.Location().empty() && spec.type != SourceType::kPush) {
    return absl::InvalidArgumentError("FrameSource: no path or url");
  }
  return std::unique_ptr<FrameSource>(new FrameSource(std::move(spec), std::move(options)));
}

FrameSource::FrameSource(SourceSpec spec, Options options)
    : spec_(std::move(spec)),
      options_(std::move(options)),
      period_(spec_.fps && spec_.Live() ? std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(1.0 / *spec_.fps))
                                        : Clock::duration::zero()) {}

FrameSource::~FrameSource() { Stop(); }

absl::Status FrameSource::Start() {
  absl::MutexLock thread_lock(&thread_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (started_ || stopping_)
      return absl::FailedPreconditionError("the source was started before");
    started_ = true;
    start_ = Clock::now();
    next_take_ = start_;
    state_.phase =
        spec_.type == SourceType::kPush ? SourcePhase::kRunning : SourcePhase::kConnecting;
  }
  if (spec_.type == SourceType::kPush) return absl::OkStatus();
  thread_ = std::thread([this] {
    if (spec_.type == SourceType::kFile) {
      ReadFile();
    } else {
      ReadStream();
    }
  });
  pthread_setname_np(thread_.native_handle(), options_.thread_name.substr(0, 15).c_str());
  return absl::OkStatus();
}

void FrameSource::Stop() {
  absl::MutexLock thread_lock(&thread_mu_);
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    state_.phase = SourcePhase::kStopped;
    state_.next_retry.reset();
    changed_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

double FrameSource::SinceStart(Clock::time_point t) const {
  return std::chrono::duration<double>(t - start_).count();
}

bool FrameSource::SleepUntil(Clock::time_point until) {
  absl::MutexLock lock(&mu_);
  for (auto now = Clock::now(); !stopping_ && now < until; now = Clock::now()) {
    changed_.WaitWithTimeout(&mu_, absl::FromChrono(until - now));
  }
  return !stopping_;
}

void FrameSource::SetPhase(SourcePhase phase) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  state_.phase = phase;
  if (phase != SourcePhase::kReconnecting) {
    state_.next_retry.reset();
    state_.backoff = std::chrono::milliseconds(0);
  }
  changed_.SignalAll();
}

void FrameSource::End(absl::Status why) {
  if (why.code() != absl::StatusCode::kOutOfRange) {
    spdlog::warn("video source {}: {}", spec_.Location(), std::string(why.message()));
  }
  absl::MutexLock lock(&mu_);
  end_status_ = std::move(why);
  if (end_status_.code() != absl::StatusCode::kOutOfRange) {
    state_.last_error = std::string(end_status_.message());
  }
  if (!stopping_) state_.phase = SourcePhase::kEnded;
  changed_.SignalAll();
}

bool FrameSource::BackOff(std::string error, std::chrono::milliseconds& backoff) {
  Clock::time_point retry;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    retry = Clock::now() + backoff;
    spdlog::warn("video source {}: {}; retrying in {} ms", spec_.Location(), error,
                 backoff.count());
    state_.last_error = std::move(error);
    state_.phase = SourcePhase::kReconnecting;
    state_.next_retry = retry;
    state_.backoff = backoff;
    changed_.SignalAll();
  }
  backoff = std::min(backoff * 2, options_.max_backoff);
  if (!SleepUntil(retry)) return false;
  absl::MutexLock lock(&mu_);
  if (stopping_) return false;
  ++counters_.reconnects;
  ++state_.reconnects;
  state_.next_retry.reset();
  return true;
}

void FrameSource::ReadFile() {
  std::string error;
  auto capture = OpenCapture(spec_.path, options_, /*network=*/false, error);
  if (capture == nullptr) return End(absl::NotFoundError(error));
  double fps = FiniteFps(capture->get(cv::CAP_PROP_FPS));
  {
    absl::MutexLock lock(&mu_);
    state_.width = static_cast<int>(capture->get(cv::CAP_PROP_FRAME_WIDTH));
    state_.height = static_cast<int>(capture->get(cv::CAP_PROP_FRAME_HEIGHT));
    state_.source_fps = fps;
  }
  SetPhase(SourcePhase::kRunning);
  uint64_t frames = 0;       // read from the file, all loops
  uint64_t loop_frames = 0;  // read in this pass over the file
  double loop_offset = 0;    // media time of this pass's start (files without fps)
  double last_time = 0, last_step = 0;
  Clock::time_point pass_start = Clock::now();  // realtime pacing
  cv::Mat bgr;
  for (;;) {
    const ReadResult r = ReadFrame(*capture, bgr);
    if (r == ReadResult::kDecodeError) {
      CountSkip(SkipReason::kDecodeError);
      continue;  // the file position still advances; its end shows as kEnd
    }
    if (r == ReadResult::kEnd) {
      if (!spec_.loop || loop_frames == 0) return End(absl::OutOfRangeError("end of file"));
      capture = OpenCapture(spec_.path, options_, /*network=*/false, error);
      if (capture == nullptr) return End(absl::NotFoundError(error));
      loop_offset = last_time + (last_step > 0 ? last_step : 0.04);
      loop_frames = 0;
      pass_start = Clock::now();
      continue;
    }
    // Media time: the frame count over the file's rate, else the stream's timestamps.
    const double pass_time = fps > 0 ? static_cast<double>(loop_frames) / fps
                                     : std::max(0.0, capture->get(cv::CAP_PROP_POS_MSEC) / 1000);
    const double media_time = fps > 0 ? static_cast<double>(frames) / fps : loop_offset + pass_time;
    last_step = media_time - last_time;
    last_time = media_time;
    ++frames;
    ++loop_frames;
    if (spec_.realtime && !SleepUntil(pass_start + std::chrono::duration_cast<Clock::duration>(
                                                       std::chrono::duration<double>(pass_time)))) {
      return;
    }
    if (!Deliver(std::move(bgr), media_time)) return;
  }
}

void FrameSource::ReadStream() {
  std::chrono::milliseconds backoff = options_.initial_backoff;
  cv::Mat bgr;
  for (;;) {
    std::string error;
    auto capture = OpenCapture(spec_.url, options_, /*network=*/true, error);
    if (capture != nullptr) {
      {
        absl::MutexLock lock(&mu_);
        state_.width = static_cast<int>(capture->get(cv::CAP_PROP_FRAME_WIDTH));
        state_.height = static_cast<int>(capture->get(cv::CAP_PROP_FRAME_HEIGHT));
        state_.source_fps = FiniteFps(capture->get(cv::CAP_PROP_FPS));
      }
      bool running = false;
      int decode_errors_in_row = 0;
      for (;;) {
        const ReadResult r = ReadFrame(*capture, bgr);
        if (r == ReadResult::kEnd) {
          error = absl::StrCat("the stream ", spec_.url, " ended or sent nothing for ",
                               options_.read_timeout.count(), " ms");
          break;
        }
        if (r == ReadResult::kDecodeError) {
          CountSkip(SkipReason::kDecodeError);
          if (++decode_errors_in_row < kMaxDecodeErrorsInRow) continue;
          error = absl::StrCat("the stream ", spec_.url, " sent ", kMaxDecodeErrorsInRow,
                               " undecodable frames in a row");
          break;
        }
        decode_errors_in_row = 0;
        if (!running) {
          running = true;
          backoff = options_.initial_backoff;  // a good read resets the back-off
          SetPhase(SourcePhase::kRunning);
        }
        if (!Deliver(std::move(bgr), std::nullopt)) return;
      }
      capture.reset();  // closes the connection (bounded by the timeouts)
    }
    if (!BackOff(std::move(error), backoff)) return;
  }
}

bool FrameSource::Deliver(cv::Mat bgr, std::optional<double> media_time) {
  absl::MutexLock lock(&mu_);
  if (!spec_.Live()) {
    while (!stopping_ && queue_.size() >= options_.file_queue) changed_.Wait(&mu_);
  }
  if (stopping_) return false;
  const Clock::time_point now = Clock::now();
  VideoFrame frame{std::move(bgr), counters_.captured++, media_time.value_or(SinceStart(now)), now};
  if (spec_.Live()) {
    KeepNewest(std::move(frame), now);
  } else {
    queue_.push_back(std::move(frame));
    counters_.pending = queue_.size();
    changed_.SignalAll();
  }
  return true;
}

void FrameSource::KeepNewest(VideoFrame frame, Clock::time_point now) {
  if (!queue_.empty()) {
    const SkipReason reason = now < next_take_ ? SkipReason::kRateLimit : SkipReason::kBackpressure;
    counters_.skipped[static_cast<size_t>(reason)] += queue_.size();
    queue_.clear();
  }
  queue_.push_back(std::move(frame));
  counters_.pending = queue_.size();
  changed_.SignalAll();
}

VideoFrame FrameSource::Take(Clock::time_point now) {
  VideoFrame frame = std::move(queue_.front());
  queue_.pop_front();
  frame.taken = now;
  ++counters_.taken;
  counters_.pending = queue_.size();
  if (period_ > Clock::duration::zero()) {
    // On the rate's grid while the consumer keeps up; never two takes closer
    // than half a period after it fell behind.
    next_take_ = std::max(next_take_ + period_, now + period_ / 2);
  }
  changed_.SignalAll();
  return frame;
}

absl::StatusOr<VideoFrame> FrameSource::Next(std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  absl::MutexLock lock(&mu_);
  if (!started_ && !stopping_) return absl::FailedPreconditionError("the source is not started");
  for (;;) {
    if (stopping_) return absl::CancelledError("the source was stopped");
    const Clock::time_point now = Clock::now();
    Clock::time_point wake = deadline;
    if (!queue_.empty()) {
      if (!spec_.Live() || now >= next_take_) return Take(now);
      wake = std::min(wake, next_take_);
    } else if (state_.phase == SourcePhase::kEnded) {
      return end_status_;
    }
    if (now >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("no frame within ", timeout.count(), " ms (source ",
                       std::string(SourcePhaseName(state_.phase)),
                       state_.last_error.empty() ? "" : "; last error: ", state_.last_error, ")"));
    }
    changed_.WaitWithTimeout(&mu_, absl::FromChrono(wake - now));
  }
}

absl::Status FrameSource::Push(std::string_view encoded_image, std::optional<double> time) {
  if (spec_.type != SourceType::kPush) {
    return absl::FailedPreconditionError(
        absl::StrCat("frames can only be pushed to a push source, not ",
                     std::string(SourceTypeName(spec_.type))));
  }
  if (time && !(std::isfinite(*time) && *time >= 0)) {
    return absl::InvalidArgumentError("push: time must be a finite number of seconds >= 0");
  }
  {
    absl::MutexLock lock(&mu_);
    if (!started_ || stopping_) return absl::FailedPreconditionError("the source is not running");
  }
  cv::Mat bgr;
  std::string why;
  if (encoded_image.empty()) {
    why = "push: the body is empty; send an encoded image (JPEG, PNG, BMP, ...)";
  } else if (encoded_image.size() > options_.max_push_bytes) {
    why = absl::StrCat("push: the image is ", encoded_image.size(), " bytes; at most ",
                       options_.max_push_bytes, " are accepted");
  } else if (auto size = ImageSize(encoded_image);
             size && static_cast<uint64_t>(size->first) * size->second > options_.max_push_pixels) {
    why = absl::StrCat("push: the image is ", size->first, "x", size->second, "; at most ",
                       options_.max_push_pixels, " pixels are accepted");
  } else {
    try {
      // imdecode only reads the buffer; the Mat header merely borrows it.
      const cv::Mat buffer(1, static_cast<int>(encoded_image.size()), CV_8UC1,
                           const_cast<char*>(encoded_image.data()));
      bgr = cv::imdecode(buffer, cv::IMREAD_COLOR);
    } catch (const cv::Exception&) {
      bgr = cv::Mat();
    }
    if (bgr.empty()) why = "push: the body is not an image OpenCV can decode (JPEG, PNG, BMP, ...)";
  }
  absl::MutexLock lock(&mu_);
  if (!why.empty()) {
    ++counters_.skipped[static_cast<size_t>(SkipReason::kDecodeError)];
    return absl::InvalidArgumentError(why);
  }
  if (stopping_) return absl::FailedPreconditionError("the source is not running");
  const Clock::time_point now = Clock::now();
  KeepNewest(VideoFrame{std::move(bgr), counters_.captured++, time.value_or(SinceStart(now)), now},
             now);
  state_.width = queue_.back().bgr.cols;
  state_.height = queue_.back().bgr.rows;
  return absl::OkStatus();
}

void FrameSource::CountSkip(SkipReason reason, uint64_t count) {
  absl::MutexLock lock(&mu_);
  counters_.skipped[static_cast<size_t>(reason)] += count;
}

SourceState FrameSource::State() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

SourceCounters FrameSource::Counters() const {
  absl::MutexLock lock(&mu_);
  return counters_;
}

}  // namespace heteroaccel::video

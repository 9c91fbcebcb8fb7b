#include "video/frame_source.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <opencv2/imgcodecs.hpp>
#include <thread>
#include <vector>

#include "video/testing/test_video.h"

namespace heteroaccel::video {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::unique_ptr<FrameSource> MakeSource(SourceSpec spec, FrameSource::Options options = {}) {
  auto source = FrameSource::Create(std::move(spec), std::move(options));
  EXPECT_TRUE(source.ok()) << source.status();
  return source.ok() ? std::move(*source) : nullptr;
}

SourceSpec FileSpec(bool loop = false, bool realtime = false, std::optional<double> fps = {}) {
  SourceSpec spec;
  spec.type = SourceType::kFile;
  spec.path = testing::TestVideoPath();
  spec.loop = loop;
  spec.realtime = realtime;
  spec.fps = fps;
  return spec;
}

// Waits (up to `timeout`) until `done(State())`.
template <typename Pred>
bool WaitForState(const FrameSource& source, Pred done, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (done(source.State())) return true;
    std::this_thread::sleep_for(5ms);
  }
  return done(source.State());
}

uint64_t LiveSum(const SourceCounters& c) {
  return c.taken + c.Skipped(SkipReason::kRateLimit) + c.Skipped(SkipReason::kBackpressure) +
         c.pending;
}

TEST(FrameSourceTest, ReadsEveryFrameOfAFileInOrderOnMediaTime) {
  auto source = MakeSource(FileSpec());
  ASSERT_NE(source, nullptr);
  ASSERT_TRUE(source->Start().ok());
  int frames = 0;
  for (;;) {
    auto frame = source->Next(10s);
    if (!frame.ok()) {
      EXPECT_EQ(frame.status().code(), absl::StatusCode::kOutOfRange) << frame.status();
      break;
    }
    ASSERT_EQ(frame->index, static_cast<uint64_t>(frames));
    ASSERT_DOUBLE_EQ(frame->time, frames / testing::kTestVideoFps);
    ASSERT_EQ(frame->bgr.cols, 768);
    ASSERT_EQ(frame->bgr.rows, 576);
    ASSERT_EQ(frame->bgr.type(), CV_8UC3);
    ++frames;
  }
  EXPECT_EQ(frames, testing::kTestVideoFrames);
  EXPECT_EQ(source->State().phase, SourcePhase::kEnded);
  EXPECT_EQ(source->State().source_fps, testing::kTestVideoFps);
  const SourceCounters c = source->Counters();
  EXPECT_EQ(c.captured, 795u);
  EXPECT_EQ(c.taken, 795u);
  EXPECT_EQ(c.pending, 0u);
  for (uint64_t skipped : c.skipped) EXPECT_EQ(skipped, 0u);
  // Ended stays ended.
  EXPECT_EQ(source->Next(0ms).status().code(), absl::StatusCode::kOutOfRange);
}

TEST(FrameSourceTest, FileDecoderWaitsForTheConsumer) {
  FrameSource::Options options;
  options.file_queue = 3;
  auto source = MakeSource(FileSpec(), options);
  ASSERT_NE(source, nullptr);
  ASSERT_TRUE(source->Start().ok());
  ASSERT_TRUE(source->Next(10s).ok());
  std::this_thread::sleep_for(300ms);  // long enough to decode the whole file if it did not wait
  SourceCounters c = source->Counters();
  EXPECT_EQ(c.captured, 4u);  // the one taken + a full queue
  EXPECT_EQ(c.pending, 3u);
  for (uint64_t i = 1; i < 10; ++i) {
    auto frame = source->Next(10s);
    ASSERT_TRUE(frame.ok()) << frame.status();
    EXPECT_EQ(frame->index, i);  // nothing dropped
  }
}

TEST(FrameSourceTest, LoopingFileKeepsIndexAndTimeIncreasing) {
  auto source = MakeSource(FileSpec(/*loop=*/true));
  ASSERT_NE(source, nullptr);
  ASSERT_TRUE(source->Start().ok());
  double last_time = -1;
  cv::Mat first;
  for (int i = 0; i < testing::kTestVideoFrames + 25; ++i) {
    auto frame = source->Next(10s);
    ASSERT_TRUE(frame.ok()) << frame.status() << " at " << i;
    ASSERT_EQ(frame->index, static_cast<uint64_t>(i));
    ASSERT_GT(frame->time, last_time);
    last_time = frame->time;
    if (i == 0) first = frame->bgr;
    if (i == testing::kTestVideoFrames) {
      EXPECT_DOUBLE_EQ(frame->time, 79.5);
      EXPECT_EQ(cv::norm(frame->bgr, first, cv::NORM_INF), 0) << "the second pass starts over";
    }
  }
  EXPECT_EQ(source->State().phase, SourcePhase::kRunning);
  source->Stop();
  EXPECT_EQ(source->State().phase, SourcePhase::kStopped);
  EXPECT_EQ(source->Next(1s).status().code(), absl::StatusCode::kCancelled);
}

TEST(FrameSourceTest, RealtimeFileIsPacedAndRateLimited) {
  auto source = MakeSource(FileSpec(/*loop=*/true, /*realtime=*/true, /*fps=*/4));
  ASSERT_NE(source, nullptr);
  ASSERT_TRUE(source->Start().ok());
  const auto start = Clock::now();
  std::vector<VideoFrame> frames;
  while (Clock::now() - start < 2s) {
    auto frame = source->Next(100ms);
    if (frame.ok()) frames.push_back(*std::move(frame));
  }
  source->Stop();
  const SourceCounters c = source->Counters();
  // The file plays at 10 fps; 4 a second are taken, always the newest.
  EXPECT_GE(frames.size(), 7u);
  EXPECT_LE(frames.size(), 9u);
  EXPECT_GE(c.captured, 17u);
  EXPECT_LE(c.captured, 21u);
  EXPECT_EQ(c.taken, frames.size());
  EXPECT_GT(c.Skipped(SkipReason::kRateLimit), 8u);
  EXPECT_EQ(c.captured, LiveSum(c));
  // The rate holds on the wall clock: takes are on a 250 ms grid while the
  // consumer keeps up and never closer than half of it after a late wake-up.
  // Media time cannot show it: two takes 125 ms apart can be adjacent frames
  // of a 10 fps file, and a decoder that stalled catches up in a burst.
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_LE(frames[i].captured, frames[i].taken);
    if (i == 0) continue;
    EXPECT_GT(frames[i].index, frames[i - 1].index);
    EXPECT_GT(frames[i].time, frames[i - 1].time);
    EXPECT_GE(frames[i].taken - frames[i - 1].taken, 125ms)
        << "taken closer than the rate allows at " << i;
  }
  EXPECT_LT(frames.back().time, 2.1);
}

TEST(FrameSourceTest, LiveFrameNotTakenIsCountedAsBackpressure) {
  auto source = MakeSource(FileSpec(/*loop=*/true, /*realtime=*/true));
  ASSERT_NE(source, nullptr);
  ASSERT_TRUE(source->Start().ok());
  std::this_thread::sleep_for(800ms);  // the consumer is busy: frames replace each other
  auto frame = source->Next(1s);
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_GE(frame->index, 5u);  // the newest, not the first
  source->Stop();
  const SourceCounters c = source->Counters();
  EXPECT_GE(c.Skipped(SkipReason::kBackpressure), 5u);
  EXPECT_EQ(c.Skipped(SkipReason::kRateLimit), 0u);
  EXPECT_EQ(c.captured, LiveSum(c));
}

TEST(FrameSourceTest, MissingFileEndsWithTheReason) {
  SourceSpec spec = FileSpec();
  spec.path = "/nonexistent/camera-" + std::to_string(getpid()) + ".avi";
  auto source = MakeSource(spec);
  ASSERT_NE(source, nullptr);
  ASSERT_TRUE(source->Start().ok());
  auto frame = source->Next(5s);
  EXPECT_EQ(frame.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(frame.status().message(), HasSubstr(spec.path));
  const SourceState state = source->State();
  EXPECT_EQ(state.phase, SourcePhase::kEnded);
  EXPECT_THAT(state.last_error, HasSubstr("cannot open file"));
}

class PushSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SourceSpec spec;
    spec.type = SourceType::kPush;
    source_ = MakeSource(spec);
    ASSERT_NE(source_, nullptr);
    ASSERT_TRUE(source_->Start().ok());
    cv::Mat image(48, 64, CV_8UC3, cv::Scalar(10, 200, 30));
    std::vector<uchar> buf;
    ASSERT_TRUE(cv::imencode(".png", image, buf));
    png_.assign(buf.begin(), buf.end());
  }
  std::unique_ptr<FrameSource> source_;
  std::string png_;
};

TEST_F(PushSourceTest, DecodesAPushedImage) {
  ASSERT_TRUE(source_->Push(png_, 12.5).ok());
  auto frame = source_->Next(1s);
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_EQ(frame->bgr.cols, 64);
  EXPECT_EQ(frame->bgr.rows, 48);
  EXPECT_EQ(frame->bgr.at<cv::Vec3b>(3, 3), cv::Vec3b(10, 200, 30));
  EXPECT_EQ(frame->time, 12.5);
  EXPECT_EQ(frame->index, 0u);
  EXPECT_EQ(source_->State().phase, SourcePhase::kRunning);
  EXPECT_EQ(source_->State().width, 64);
}

TEST_F(PushSourceTest, BadImageIsInvalidArgumentAndCountsADecodeError) {
  absl::Status s = source_->Push("this is not an image");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("not an image"));
  EXPECT_EQ(source_->Push("").code(), absl::StatusCode::kInvalidArgument);
  std::string truncated = png_.substr(0, png_.size() / 2);
  EXPECT_EQ(source_->Push(truncated).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(source_->Push(png_, -1).code(), absl::StatusCode::kInvalidArgument);
  const SourceCounters c = source_->Counters();
  EXPECT_EQ(c.Skipped(SkipReason::kDecodeError), 3u);
  EXPECT_EQ(c.captured, 0u);
  EXPECT_EQ(source_->Next(0ms).status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(PushSourceTest, RefusesAnImageTooLargeToDecode) {
  // A PNG header claiming 100000 x 100000 pixels: refused before decoding.
  std::string bomb = png_;
  const char huge[] = {0x00, 0x01, static_cast<char>(0x86), static_cast<char>(0xA0)};
  bomb.replace(16, 4, huge, 4);
  bomb.replace(20, 4, huge, 4);
  absl::Status s = source_->Push(bomb);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("100000x100000"));
  cv::Mat big(300, 200, CV_8UC3, cv::Scalar(1, 2, 3));
  std::vector<uchar> jpeg;
  ASSERT_TRUE(cv::imencode(".jpg", big, jpeg));
  FrameSource::Options options;
  options.max_push_pixels = 200 * 299;
  SourceSpec spec;
  spec.type = SourceType::kPush;
  auto small = MakeSource(spec, options);
  ASSERT_TRUE(small->Start().ok());
  s = small->Push(std::string(jpeg.begin(), jpeg.end()));
  EXPECT_THAT(s.message(), HasSubstr("200x300"));
  options.max_push_pixels = 200 * 300;
  auto enough = MakeSource(spec, options);
  ASSERT_TRUE(enough->Start().ok());
  EXPECT_TRUE(enough->Push(std::string(jpeg.begin(), jpeg.end())).ok());
}

TEST_F(PushSourceTest, KeepsTheNewestAndCountsTheRest) {
  ASSERT_TRUE(source_->Push(png_, 1).ok());
  ASSERT_TRUE(source_->Push(png_, 2).ok());
  ASSERT_TRUE(source_->Push(png_, 3).ok());
  auto frame = source_->Next(1s);
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_EQ(frame->time, 3);
  EXPECT_EQ(frame->index, 2u);
  SourceCounters c = source_->Counters();
  EXPECT_EQ(c.Skipped(SkipReason::kBackpressure), 2u);
  EXPECT_EQ(c.captured, LiveSum(c));
  source_->CountSkip(SkipReason::kDeadline);
  EXPECT_EQ(source_->Counters().Skipped(SkipReason::kDeadline), 1u);
}

TEST(FrameSourceTest, PushIsOnlyForPushSources) {
  auto source = MakeSource(FileSpec());
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->Push("x").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(source->Next(0ms).status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(source->Start().ok());
  EXPECT_EQ(source->Start().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(FrameSourceTest, RejectsBadOptions) {
  FrameSource::Options options;
  options.file_queue = 0;
  EXPECT_EQ(FrameSource::Create(FileSpec(), options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = {};
  options.max_backoff = 1ms;
  EXPECT_EQ(FrameSource::Create(FileSpec(), options).status().code(),
            absl::StatusCode::kInvalidArgument);
  FrameSource::Options defaults;
  EXPECT_EQ(defaults.initial_backoff, 500ms);
  EXPECT_EQ(defaults.max_backoff, 30s);
}

// A loopback TCP socket: listening but never answering (a camera that hangs),
// or closed (nothing listens on the port).
class LoopbackSocket {
 public:
  explicit LoopbackSocket(bool listen) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (listen) {
      EXPECT_EQ(::listen(fd_, 8), 0);
    } else {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~LoopbackSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

SourceSpec RtspSpec(int port) {
  SourceSpec spec;
  spec.type = SourceType::kRtsp;
  spec.url = "rtsp://127.0.0.1:" + std::to_string(port) + "/nothing";
  return spec;
}

TEST(FrameSourceTest, SourceThatNeverOpensBacksOffLongerEachTime) {
  LoopbackSocket closed(/*listen=*/false);
  FrameSource::Options options;
  options.initial_backoff = 50ms;
  options.max_backoff = 400ms;
  auto source = MakeSource(RtspSpec(closed.port()), options);
  ASSERT_NE(source, nullptr);
  ASSERT_TRUE(source->Start().ok());
  std::vector<std::chrono::milliseconds> backoffs;
  const auto deadline = Clock::now() + 5s;
  while (backoffs.size() < 5 && Clock::now() < deadline) {
    const SourceState state = source->State();
    if (state.phase == SourcePhase::kReconnecting && state.next_retry &&
        (backoffs.empty() || backoffs.back() != state.backoff || backoffs.back() == 400ms)) {
      if (backoffs.size() < state.reconnects + 1) backoffs.push_back(state.backoff);
      EXPECT_THAT(state.last_error, HasSubstr("cannot open rtsp://127.0.0.1"));
    }
    std::this_thread::sleep_for(2ms);
  }
  EXPECT_THAT(backoffs, ::testing::ElementsAre(50ms, 100ms, 200ms, 400ms, 400ms));
  EXPECT_EQ(source->Next(0ms).status().code(), absl::StatusCode::kDeadlineExceeded);
  const auto stop_start = Clock::now();
  source->Stop();
  EXPECT_LT(Clock::now() - stop_start, 500ms);
  EXPECT_EQ(source->State().phase, SourcePhase::kStopped);
  EXPECT_GE(source->Counters().reconnects, 4u);
}

TEST(FrameSourceTest, StopReturnsPromptlyWhileAnOpenBlocks) {
  LoopbackSocket hanging(/*listen=*/true);  // accepts (backlog) but never answers
  FrameSource::Options options;
  options.open_timeout = 1000ms;
  options.read_timeout = 1000ms;
  auto source = MakeSource(RtspSpec(hanging.port()), options);
  ASSERT_NE(source, nullptr);
  ASSERT_TRUE(source->Start().ok());
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(source->State().phase, SourcePhase::kConnecting);
  const auto stop_start = Clock::now();
  source->Stop();
  EXPECT_LT(Clock::now() - stop_start, 1500ms);
}

}  // namespace
}  // namespace heteroaccel::video

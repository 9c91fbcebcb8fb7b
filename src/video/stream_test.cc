// Live sources against real loopback servers: RTSP (gst-rtsp-server, H.264)
// and HTTP multipart MJPEG, each stopped and restarted mid-run.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "video/frame_source.h"
#include "video/testing/mjpeg_server.h"
#include "video/testing/rtsp_server.h"
#include "video/testing/test_video.h"

namespace heteroaccel::video {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

FrameSource::Options FastOptions() {
  FrameSource::Options options;
  options.open_timeout = 10000ms;
  options.read_timeout = 1500ms;
  options.initial_backoff = 250ms;
  options.max_backoff = 1000ms;
  return options;
}

// Takes frames for `duration`; the number taken.
int TakeFor(FrameSource& source, std::chrono::milliseconds duration, VideoFrame* last = nullptr) {
  int taken = 0;
  const auto end = Clock::now() + duration;
  while (Clock::now() < end) {
    auto frame = source.Next(std::chrono::duration_cast<std::chrono::milliseconds>(
        std::max<Clock::duration>(end - Clock::now(), Clock::duration::zero())));
    if (!frame.ok()) continue;
    ++taken;
    if (last != nullptr) *last = *std::move(frame);
  }
  return taken;
}

// Takes frames until one arrives (or `timeout`); true when one did.
bool WaitForFrame(FrameSource& source, std::chrono::milliseconds timeout, VideoFrame* frame) {
  auto next = source.Next(timeout);
  if (next.ok() && frame != nullptr) *frame = *std::move(next);
  return next.ok();
}

template <typename Pred>
bool WaitForState(const FrameSource& source, Pred done, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (done(source.State())) return true;
    std::this_thread::sleep_for(5ms);
  }
  return done(source.State());
}

// Drop and come back: the server stops, the source reconnects, frames resume.
void ExpectSurvivesARestart(FrameSource& source, const std::function<void()>& stop,
                            const std::function<absl::Status()>& restart, int width) {
  VideoFrame frame;
  ASSERT_TRUE(WaitForFrame(source, 10s, &frame)) << source.State().last_error;
  EXPECT_EQ(frame.bgr.cols, width);
  EXPECT_EQ(source.State().phase, SourcePhase::kRunning);
  EXPECT_GE(TakeFor(source, 1000ms), 3);  // about 5 a second (spec fps)

  stop();
  EXPECT_TRUE(WaitForState(
      source, [](const SourceState& s) { return s.phase == SourcePhase::kReconnecting; }, 5s))
      << SourcePhaseName(source.State().phase);
  const SourceState down = source.State();
  EXPECT_FALSE(down.last_error.empty());
  EXPECT_TRUE(down.next_retry.has_value());
  // The frame decoded before the drop is still there (after the rate allows a take).
  while (source.State().phase == SourcePhase::kReconnecting && source.Next(300ms).ok()) {
  }
  ASSERT_TRUE(restart().ok());

  VideoFrame after;
  ASSERT_TRUE(WaitForFrame(source, 15s, &after)) << source.State().last_error;
  EXPECT_GT(after.index, frame.index);
  EXPECT_GT(after.time, frame.time);
  EXPECT_EQ(source.State().phase, SourcePhase::kRunning);
  EXPECT_GE(source.State().reconnects, 1u);
  EXPECT_GE(TakeFor(source, 1000ms), 3);

  source.Stop();
  const SourceCounters c = source.Counters();
  EXPECT_EQ(c.captured, c.taken + c.Skipped(SkipReason::kRateLimit) +
                            c.Skipped(SkipReason::kBackpressure) + c.pending);
  EXPECT_GE(c.reconnects, 1u);
}

TEST(RtspSourceTest, ReadsTheStreamAndReconnectsAfterTheServerRestarts) {
  ASSERT_TRUE(testing::RtspServerAvailable().ok()) << testing::RtspServerAvailable();
  auto server = testing::RtspServer::Start({.file = testing::TestVideoPath()});
  ASSERT_TRUE(server.ok()) << server.status();
  SourceSpec spec;
  spec.type = SourceType::kRtsp;
  spec.url = (*server)->Url();
  spec.fps = 5;
  auto source = FrameSource::Create(spec, FastOptions());
  ASSERT_TRUE(source.ok()) << source.status();
  ASSERT_TRUE((*source)->Start().ok());
  ExpectSurvivesARestart(
      **source, [&] { (*server)->Stop(); }, [&] { return (*server)->Restart(); }, 320);
}

TEST(MjpegSourceTest, ReadsTheStreamAndReconnectsAfterTheServerRestarts) {
  auto server = testing::MjpegServer::Start(
      {.file = testing::TestVideoPath(), .fps = 15, .width = 256, .max_frames = 30});
  ASSERT_TRUE(server.ok()) << server.status();
  SourceSpec spec;
  spec.type = SourceType::kMjpeg;
  spec.url = (*server)->Url();
  spec.fps = 5;
  auto source = FrameSource::Create(spec, FastOptions());
  ASSERT_TRUE(source.ok()) << source.status();
  ASSERT_TRUE((*source)->Start().ok());
  ExpectSurvivesARestart(
      **source, [&] { (*server)->Stop(); }, [&] { return (*server)->Restart(); }, 256);
  EXPECT_GE((*server)->clients(), 2);
}

TEST(MjpegSourceTest, RateLimitCountsAreExact) {
  auto server = testing::MjpegServer::Start(
      {.file = testing::TestVideoPath(), .fps = 20, .width = 160, .max_frames = 20});
  ASSERT_TRUE(server.ok()) << server.status();
  SourceSpec spec;
  spec.type = SourceType::kMjpeg;
  spec.url = (*server)->Url();
  spec.fps = 4;
  auto source = FrameSource::Create(spec, FastOptions());
  ASSERT_TRUE(source.ok()) << source.status();
  ASSERT_TRUE((*source)->Start().ok());
  ASSERT_TRUE(WaitForFrame(**source, 10s, nullptr));
  const int taken = TakeFor(**source, 2000ms);
  (*source)->Stop();
  EXPECT_GE(taken, 6);
  EXPECT_LE(taken, 9);  // 4 a second
  const SourceCounters c = (*source)->Counters();
  EXPECT_GE(c.Skipped(SkipReason::kRateLimit), 20u);  // the server sends 20 a second
  EXPECT_EQ(c.captured, c.taken + c.Skipped(SkipReason::kRateLimit) +
                            c.Skipped(SkipReason::kBackpressure) + c.pending);
}

TEST(RtspServerTest, RefusesAPortInUse) {
  ASSERT_TRUE(testing::RtspServerAvailable().ok()) << testing::RtspServerAvailable();
  auto first = testing::RtspServer::Start({.file = testing::TestVideoPath()});
  ASSERT_TRUE(first.ok()) << first.status();
  auto second =
      testing::RtspServer::Start({.file = testing::TestVideoPath(), .port = (*first)->port()});
  EXPECT_FALSE(second.ok());
}

}  // namespace
}  // namespace heteroaccel::video

#include "cameras/camera_runner.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "cameras/testing/blob_detector.h"
#include "events/event_store.h"

namespace heteroaccel::cameras {
namespace {

std::string TempDir() {
  std::string tmpl = ::testing::TempDir() + "/cameras_runner_XXXXXX";
  return mkdtemp(tmpl.data());
}

pipeline::CameraSpec Spec(const std::string& clip, bool sink_mqtt = false) {
  nlohmann::json doc = {
      {"id", "walk"},
      {"source", {{"type", "file"}, {"path", clip}}},
      {"zones", {{{"name", "bottom"}, {"polygon", {{0, 160}, {320, 160}, {320, 240}, {0, 240}}}}}},
      {"lines", {{{"name", "mid"}, {"from", {0, 120}}, {"to", {320, 120}}}}},
      {"pipeline",
       {{{"id", "det"}, {"block", "detect"}, {"input", "source"}, {"type", "object"}},
        {{"id", "people"}, {"block", "filter"}, {"input", "det"}, {"classes", {"person"}}},
        {{"id", "trk"}, {"block", "track"}, {"input", "people"}, {"min_hits", 2}},
        {{"id", "colour"}, {"block", "colour"}, {"input", "trk"}},
        {{"id", "cross"}, {"block", "line_crossing"}, {"input", "trk"}, {"line", "mid"}},
        {{"id", "in-zone"},
         {"block", "zone_intrusion"},
         {"input", "trk"},
         {"zone", "bottom"},
         {"inertia", 2}},
        {{"id", "out"}, {"block", "sink"}, {"input", {"cross", "in-zone"}}, {"mqtt", sink_mqtt}}}}};
  auto spec = pipeline::ParseCameraSpec(doc);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return *spec;
}

bool WaitFor(const std::function<bool()>& done, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

class CameraRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir();
    clip_ = dir_ + "/walk.avi";
    ASSERT_TRUE(testing::WriteWalkingClip(clip_, 40));
    auto store = events::EventStore::Open({.dir = dir_ + "/events"});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_, clip_;
  std::unique_ptr<events::EventStore> store_;
};

TEST_F(CameraRunnerTest, FileIsProcessedInOrderAndRaisesEventsWithSnapshots) {
  testing::BlobBackend backend;
  metrics::Registry registry;
  CameraMetrics metrics(registry);
  std::vector<nlohmann::json> streamed;
  std::mutex streamed_mu;
  EventOutputs outputs;
  outputs.store = store_.get();
  outputs.stream = [&](const nlohmann::json& e) {
    std::lock_guard<std::mutex> lock(streamed_mu);
    streamed.push_back(e);
  };
  auto runner = CameraRunner::Create(Spec(clip_), {}, backend, outputs, &metrics);
  ASSERT_TRUE(runner.ok()) << runner.status();
  ASSERT_TRUE((*runner)->Start().ok());
  ASSERT_TRUE(
      WaitFor([&] { return (*runner)->StateJson()["state"] == "ended"; }, std::chrono::seconds(20)))
      << (*runner)->StateJson().dump();
  const nlohmann::json state = (*runner)->StateJson();
  EXPECT_EQ(state["frames"]["captured"], 40);
  EXPECT_EQ(state["frames"]["processed"], 40) << state.dump();
  EXPECT_EQ(backend.calls(), 40);
  // One object walking down: one crossing forward... the line is horizontal
  // from left to right, so "left" is above it: top -> bottom is forward.
  auto page = store_->Query({.camera = "walk", .type = "line_crossing"});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->events.size(), 1u);
  EXPECT_EQ(page->events[0].event.direction, "forward");
  EXPECT_EQ(page->events[0].event.colour, "white");
  auto intrusions = store_->Query({.camera = "walk", .type = "intrusion"});
  ASSERT_TRUE(intrusions.ok());
  ASSERT_EQ(intrusions->events.size(), 1u);
  EXPECT_FALSE(intrusions->events[0].active);  // ended by Finish at the end of the file
  auto snapshot = store_->Snapshot(intrusions->events[0].event.id);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->substr(0, 2), "\xFF\xD8");  // JPEG
  {
    std::lock_guard<std::mutex> lock(streamed_mu);
    EXPECT_GE(streamed.size(), 3u);  // crossing new + end, intrusion new (+ end)
  }
  const nlohmann::json pipeline = (*runner)->PipelineJson();
  EXPECT_EQ(pipeline["blocks"][0]["in"], 40);
  EXPECT_EQ(pipeline["rule_counters"]["cross"]["forward"], 1);
  (*runner)->ExportMetrics();
  const std::string text = registry.Render();
  EXPECT_NE(text.find("heteroaccel_camera_frames_processed_total{camera=\"walk\"} 40"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("heteroaccel_camera_events_total{camera=\"walk\",type=\"line_crossing\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("heteroaccel_camera_line_crossings_total{camera=\"walk\",rule=\"cross\","
                      "direction=\"forward\"} 1"),
            std::string::npos);
  EXPECT_NE((*runner)->LatestFrame(), nullptr);
}

TEST_F(CameraRunnerTest, FailedInferencesAreCountedAsDeadlineSkips) {
  testing::BlobBackend backend(/*fail_every=*/5);
  EventOutputs outputs;
  outputs.store = store_.get();
  auto runner = CameraRunner::Create(Spec(clip_), {}, backend, outputs, nullptr);
  ASSERT_TRUE(runner.ok()) << runner.status();
  ASSERT_TRUE((*runner)->Start().ok());
  ASSERT_TRUE(WaitFor([&] { return (*runner)->StateJson()["state"] == "ended"; },
                      std::chrono::seconds(20)));
  const nlohmann::json frames = (*runner)->StateJson()["frames"];
  EXPECT_EQ(frames["skipped"]["deadline"], 8);
  EXPECT_EQ(frames["processed"], 32);
  EXPECT_EQ(frames["captured"].get<int>(),
            frames["processed"].get<int>() + frames["skipped"]["deadline"].get<int>());
  // The tracker bridged the gaps: still one crossing.
  auto page = store_->Query({.camera = "walk", .type = "line_crossing"});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->events.size(), 1u);
  EXPECT_EQ((*runner)->PipelineJson()["blocks"][0]["errors"], 8);
}

TEST_F(CameraRunnerTest, StopIsBoundedWhileAnswersNeverCome) {
  // A backend that never answers: the window fills, Stop() gives up in-flight
  // frames after stop_wait.
  struct Silent : InferenceBackend {
    std::vector<InferDoneFn> held;
    std::mutex mu;
    void Infer(InferCall, InferDoneFn done) override {
      std::lock_guard<std::mutex> lock(mu);
      held.push_back(std::move(done));
    }
  } backend;
  EventOutputs outputs;
  outputs.store = store_.get();
  RunnerOptions options;
  options.stop_wait = std::chrono::milliseconds(200);
  auto runner = CameraRunner::Create(Spec(clip_), options, backend, outputs, nullptr);
  ASSERT_TRUE(runner.ok());
  ASSERT_TRUE((*runner)->Start().ok());
  ASSERT_TRUE(WaitFor([&] { return (*runner)->StateJson()["frames"]["in_flight"] == 4; },
                      std::chrono::seconds(10)));
  const auto start = std::chrono::steady_clock::now();
  (*runner)->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ((*runner)->StateJson()["state"], "stopped");
  EXPECT_EQ((*runner)->StateJson()["frames"]["skipped"]["deadline"], 4);
  // Late answers after Stop are ignored safely.
  std::lock_guard<std::mutex> lock(backend.mu);
  for (auto& done : backend.held) done(absl::DeadlineExceededError("late"));
}

TEST_F(CameraRunnerTest, CropsAreInferredAtMostEveryHalfSecondPerTrack) {
  testing::BlobBackend backend;
  pipeline::CameraSpec spec = Spec(clip_);
  nlohmann::json doc = pipeline::ToJson(spec);
  doc["pipeline"].push_back({{"id", "pose"},
                             {"block", "crop_infer"},
                             {"input", "trk"},
                             {"classes", {"person"}},
                             {"type", "pose"}});
  doc["pipeline"].push_back({{"id", "fall"}, {"block", "fall"}, {"input", "pose"}});
  auto parsed = pipeline::ParseCameraSpec(doc);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EventOutputs outputs;
  outputs.store = store_.get();
  auto runner = CameraRunner::Create(*parsed, {}, backend, outputs, nullptr);
  ASSERT_TRUE(runner.ok()) << runner.status();
  ASSERT_TRUE((*runner)->Start().ok());
  ASSERT_TRUE(WaitFor([&] { return (*runner)->StateJson()["state"] == "ended"; },
                      std::chrono::seconds(20)));
  nlohmann::json pose;
  const nlohmann::json pipeline = (*runner)->PipelineJson();
  for (const auto& b : pipeline["blocks"]) {
    if (b["id"] == "pose") pose = b;
  }
  // 40 frames at 10 fps = 3.9 s of media time; the track is confirmed on its
  // 2nd frame: crops at 0.1, 0.6, ... 3.6 s -> 8.
  EXPECT_EQ(pose["in"], 8) << pose.dump();
  EXPECT_EQ(pose["out"], 8) << pose.dump();  // each answered with keypoints
  EXPECT_EQ(pose["errors"], 0);
  EXPECT_EQ(backend.calls(), 40 + 8);
}

TEST_F(CameraRunnerTest, RefusesABadSource) {
  testing::BlobBackend backend;
  pipeline::CameraSpec spec = Spec(clip_);
  spec.source = {{"type", "rtsp"}, {"url", "http://x"}};
  EventOutputs outputs;
  outputs.store = store_.get();
  auto runner = CameraRunner::Create(spec, {}, backend, outputs, nullptr);
  ASSERT_FALSE(runner.ok());
  EXPECT_EQ(runner.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(runner.status().message().find("url"), std::string_view::npos) << runner.status();
}

}  // namespace
}  // namespace heteroaccel::cameras

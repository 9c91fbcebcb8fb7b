// Accuracy of the camera runner (src/cameras: file source, JPEG per frame,
// in-flight window, reorder, filter, tracker, rules, event store) on the
// synthetic scenes, with an InferenceBackend that runs the real object detector
// in this process (no scheduler), scored from the event store's API JSON.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "cameras/camera_runner.h"
#include "events/event_store.h"
#include "scenes/evaluate.h"
#include "scenes/in_process.h"
#include "scenes/scenarios.h"
#include "testing/models.h"

namespace heteroaccel::scenes {
namespace {

// Runs calls one at a time on its own thread, like one device slot.
class LocalBackend : public cameras::InferenceBackend {
 public:
  LocalBackend() : model_(testing::LoadModel("object")), worker_([this] { Loop(); }) {}
  ~LocalBackend() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }
  void Infer(cameras::InferCall call, cameras::InferDoneFn done) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.emplace_back(std::move(call), std::move(done));
    }
    cv_.notify_all();
  }
  bool ok() const { return model_ != nullptr; }

 private:
  void Loop() {
    for (;;) {
      std::pair<cameras::InferCall, cameras::InferDoneFn> item;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return done_ || !queue_.empty(); });
        if (queue_.empty()) return;
        item = std::move(queue_.front());
        queue_.pop_front();
      }
      const std::string& jpeg = *item.first.jpeg;
      cv::Mat bgr = cv::imdecode(
          cv::Mat(1, static_cast<int>(jpeg.size()), CV_8UC1, const_cast<char*>(jpeg.data())),
          cv::IMREAD_COLOR);
      absl::StatusOr<inference::InferenceOutput> out = model_->Run(bgr);
      if (!out.ok()) {
        item.second(out.status());
        continue;
      }
      const pipeline::FrameResult f = ToFrameResult(*out, 0, 0);  // labels lower case
      cameras::InferAnswer answer;
      answer.detections = f.detections;
      answer.width = bgr.cols;
      answer.height = bgr.rows;
      answer.provenance = {"local", "cpu", "ssd", 0, 0};
      item.second(std::move(answer));
    }
  }

  std::unique_ptr<inference::Model> model_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<cameras::InferCall, cameras::InferDoneFn>> queue_;
  bool done_ = false;
  std::thread worker_;
};

class RunnerAccuracyTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RunnerAccuracyTest, StoredEventsMatchTheGroundTruth) {
  absl::StatusOr<const SpriteLibrary*> lib = SharedSpriteLibrary(testing::ModelsDir());
  ASSERT_TRUE(lib.ok()) << lib.status();
  const Scenario sc = MakeScenario(GetParam(), **lib);
  const std::string path =
      "/tmp/scene_runner_" + GetParam() + "_" + std::to_string(getpid()) + ".avi";
  absl::StatusOr<std::vector<GtFrame>> truth = RenderToFile(sc.scene, path);
  ASSERT_TRUE(truth.ok()) << truth.status();
  absl::StatusOr<pipeline::CameraSpec> spec = pipeline::ParseCameraSpec(WithSource(sc, path));
  ASSERT_TRUE(spec.ok()) << spec.status();

  LocalBackend backend;
  ASSERT_TRUE(backend.ok());
  absl::StatusOr<std::unique_ptr<events::EventStore>> store = events::EventStore::Open({});
  ASSERT_TRUE(store.ok()) << store.status();
  cameras::EventOutputs outputs;
  outputs.store = store->get();
  absl::StatusOr<std::unique_ptr<cameras::CameraRunner>> runner =
      cameras::CameraRunner::Create(*spec, {}, backend, outputs, nullptr);
  ASSERT_TRUE(runner.ok()) << runner.status();
  ASSERT_TRUE((*runner)->Start().ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(80);
  while ((*runner)->StateJson().value("state", "") != "ended" &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const nlohmann::json state = (*runner)->StateJson();
  (*runner)->Stop();
  std::remove(path.c_str());
  ASSERT_EQ(state.value("state", ""), "ended") << state.dump();

  absl::StatusOr<events::EventPage> page = (*store)->Query({.limit = 500});
  ASSERT_TRUE(page.ok()) << page.status();
  nlohmann::json body = {{"events", nlohmann::json::array()}};
  for (const events::StoredEvent& e : page->events) body["events"].push_back(events::ToJson(e));
  const Evaluation ev = Evaluate(sc.expected, EventsFromJson(body), *truth);
  std::printf("runner scene %s (frames %s):\n%s", GetParam().c_str(),
              state["frames"].dump().c_str(), ev.Summary().c_str());
  for (const auto& [rule, s] : ev.rules) {
    EXPECT_GE(s.precision, 0.95) << rule << "\n" << ev.Summary();
    EXPECT_GE(s.recall, 0.95) << rule << "\n" << ev.Summary();
    EXPECT_LE(s.max_start_error, 1.0) << rule;
  }
  for (const auto& [key, n] : sc.line_counts) {
    auto it = ev.line_counts.find(key);
    EXPECT_EQ(it == ev.line_counts.end() ? 0 : it->second, n) << key.first << " " << key.second;
  }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, RunnerAccuracyTest, ::testing::ValuesIn(ScenarioNames()),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace heteroaccel::scenes

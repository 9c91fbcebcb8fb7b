#include "cameras/camera_manager.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cameras/testing/blob_detector.h"
#include "events/event_store.h"

namespace heteroaccel::cameras {
namespace {

std::string TempDir() {
  std::string tmpl = ::testing::TempDir() + "/cameras_manager_XXXXXX";
  return mkdtemp(tmpl.data());
}

nlohmann::json PushCamera(const std::string& id) {
  return {{"id", id},
          {"source", {{"type", "push"}}},
          {"pipeline",
           {{{"id", "det"}, {"block", "detect"}, {"input", "source"}, {"type", "object"}},
            {{"id", "trk"}, {"block", "track"}, {"input", "det"}}}}};
}

class CameraManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir();
    auto store = events::EventStore::Open({});
    ASSERT_TRUE(store.ok());
    store_ = *std::move(store);
    outputs_.store = store_.get();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  absl::StatusOr<std::unique_ptr<CameraManager>> Open(const std::string& file = "") {
    ManagerOptions options;
    options.cameras_file = file;
    options.state_dir = dir_ + "/state";
    return CameraManager::Create(options, backend_, outputs_, nullptr);
  }
  std::string WriteFile(const std::string& text) {
    const std::string path = dir_ + "/cameras.yaml";
    std::ofstream(path) << text;
    return path;
  }

  std::string dir_;
  testing::BlobBackend backend_;
  std::unique_ptr<events::EventStore> store_;
  EventOutputs outputs_;
};

TEST_F(CameraManagerTest, AddValidatesNamesTheKeyAndRefusesDuplicates) {
  auto manager = Open();
  ASSERT_TRUE(manager.ok()) << manager.status();
  nlohmann::json bad = PushCamera("c1");
  bad["pipeline"][1]["min_hits"] = 0;
  auto added = (*manager)->Add(bad);
  ASSERT_EQ(added.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(added.status().message().find("key \"min_hits\""), std::string_view::npos);
  ASSERT_TRUE((*manager)->Add(PushCamera("c1")).ok());
  EXPECT_EQ((*manager)->Add(PushCamera("c1")).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ((*manager)->Get("nope").status().code(), absl::StatusCode::kNotFound);
  nlohmann::json renamed = PushCamera("c2");
  EXPECT_EQ((*manager)->Replace("c1", renamed).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CameraManagerTest, ApiChangesSurviveARestartAndOverrideTheFile) {
  const std::string file = WriteFile(R"(
cameras:
  - id: from-file
    enabled: false
    source: {type: push}
    pipeline:
      - {id: det, block: detect, input: source, type: object}
  - id: doomed
    enabled: false
    source: {type: push}
    pipeline:
      - {id: det, block: detect, input: source, type: face}
)");
  {
    auto manager = Open(file);
    ASSERT_TRUE(manager.ok()) << manager.status();
    EXPECT_EQ((*manager)->size(), 2u);
    ASSERT_TRUE((*manager)->Add(PushCamera("api-1")).ok());
    nlohmann::json changed = PushCamera("from-file");
    changed["group"] = "north";
    ASSERT_TRUE((*manager)->Replace("from-file", changed).ok());
    ASSERT_TRUE((*manager)->Remove("doomed").ok());
    EXPECT_EQ((*manager)->Remove("doomed").code(), absl::StatusCode::kNotFound);
  }
  auto manager = Open(file);
  ASSERT_TRUE(manager.ok()) << manager.status();
  EXPECT_EQ((*manager)->size(), 2u);
  auto from_file = (*manager)->Get("from-file");
  ASSERT_TRUE(from_file.ok());
  EXPECT_EQ((*from_file)["spec"]["group"], "north");
  EXPECT_EQ((*from_file)["origin"], "api");
  EXPECT_TRUE((*manager)->Get("api-1").ok());
  EXPECT_EQ((*manager)->Get("doomed").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CameraManagerTest, ABadFileIsRefusedWithTheValidatorsMessage) {
  const std::string file = WriteFile(R"(
cameras:
  - id: gate-1
    source: {type: push}
    pipeline:
      - {id: det, block: detect, input: source, type: object}
      - {id: trk, block: track, input: det, min_hits: 0}
)");
  auto manager = Open(file);
  ASSERT_FALSE(manager.ok());
  EXPECT_NE(manager.status().message().find(
                "camera \"gate-1\": block \"trk\": key \"min_hits\": must be >= 1"),
            std::string_view::npos)
      << manager.status();
}

TEST_F(CameraManagerTest, PushFramesAreDetectedAndRefusedForOtherSources) {
  auto manager = Open();
  ASSERT_TRUE(manager.ok());
  ASSERT_TRUE((*manager)->Add(PushCamera("p")).ok());
  cv::Mat frame(240, 320, CV_8UC3, cv::Scalar(0, 0, 0));
  cv::rectangle(frame, cv::Rect(100, 100, 40, 60), cv::Scalar(255, 255, 255), cv::FILLED);
  std::vector<uchar> jpeg;
  cv::imencode(".jpg", frame, jpeg);
  ASSERT_TRUE((*manager)->Push("p", std::string(jpeg.begin(), jpeg.end())).ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((*manager)->Get("p")->at("status")["frames"]["processed"] != 1 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ((*manager)->Get("p")->at("status")["frames"]["processed"], 1);
  EXPECT_TRUE((*manager)->LatestFrame("p").ok());
  EXPECT_EQ((*manager)->Push("p", "not an image").code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE((*manager)->Stop("p").ok());
  EXPECT_EQ((*manager)->Push("p", std::string(jpeg.begin(), jpeg.end())).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*manager)->Get("p")->at("spec")["enabled"], false);
  ASSERT_TRUE((*manager)->Start("p").ok());
  EXPECT_EQ((*manager)->Get("p")->at("spec")["enabled"], true);
}

TEST_F(CameraManagerTest, GeometryEditsAreValidated) {
  auto manager = Open();
  ASSERT_TRUE(manager.ok());
  nlohmann::json cam = PushCamera("g");
  cam["zones"] = {{{"name", "door"}, {"polygon", {{0, 0}, {10, 0}, {10, 10}}}}};
  cam["pipeline"].push_back(
      {{"id", "in"}, {"block", "zone_intrusion"}, {"input", "trk"}, {"zone", "door"}});
  ASSERT_TRUE((*manager)->Add(cam).ok());
  auto removed = (*manager)->SetGeometry("g", {{"zones", nlohmann::json::array()}});
  ASSERT_EQ(removed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(removed.status().message().find("door"), std::string_view::npos) << removed.status();
  auto moved = (*manager)->SetGeometry(
      "g", {{"zones", {{{"name", "door"}, {"polygon", {{0, 0}, {50, 0}, {50, 50}}}}}}});
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ((*moved)["spec"]["zones"][0]["polygon"][1][0], 50);
}

}  // namespace
}  // namespace heteroaccel::cameras

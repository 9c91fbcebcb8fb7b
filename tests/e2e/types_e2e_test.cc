// Every inference type through the real agent binary over HTTP (CPU), and the
// `heteroaccel infer --draw` picture. Accuracy per model is tested in
// src/inference; this checks that each type's schema survives the wire.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "client/infer_client.h"
#include "http/client.h"
#include "testing/subprocess.h"

namespace heteroaccel {
namespace {

using testing::ModelsDir;
using testing::ReadFileOrDie;

class TypesE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto p = testing::Subprocess::Start({testing::HeteroaccelBinary(), "agent", "--listen",
                                         "127.0.0.1:0", "--models-dir", ModelsDir(), "--no-opencl",
                                         "--cpu-slots", "1"});
    ASSERT_TRUE(p.ok()) << p.status();
    process_ = p->release();
    auto line = process_->WaitForLine("listening on http://", std::chrono::seconds(60));
    ASSERT_TRUE(line.has_value()) << process_->Output();
    url_ = line->substr(line->find("http://"));
    ASSERT_TRUE(process_->WaitForLine("ready", std::chrono::minutes(5))) << process_->Output();
  }
  static void TearDownTestSuite() {
    delete process_;
    process_ = nullptr;
  }

  static client::InferResult Infer(const std::string& model, const std::string& image,
                                   client::Protocol protocol = client::Protocol::kV2Binary) {
    auto c = client::InferClient::Create(url_);
    EXPECT_TRUE(c.ok()) << c.status();
    auto result =
        (*c)->Infer({model, "", "", protocol}, ReadFileOrDie(ModelsDir() + "/images/" + image));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : client::InferResult{};
  }

  static nlohmann::json Metadata(const std::string& model) {
    auto http = http::Client::Create(url_);
    auto r = (*http)->Get("/v2/models/" + model);
    EXPECT_EQ(r->status, 200) << r->body;
    return nlohmann::json::parse(r->body);
  }

  static testing::Subprocess* process_;
  static std::string url_;
};

testing::Subprocess* TypesE2ETest::process_ = nullptr;
std::string TypesE2ETest::url_;

const inference::Keypoint* Find(const inference::Detection& d, const std::string& name) {
  for (const auto& k : d.keypoints) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

TEST_F(TypesE2ETest, EveryTypeIsServedWithItsSchema) {
  auto models = nlohmann::json::parse((*http::Client::Create(url_))->Get("/v1/models")->body);
  std::vector<std::string> types;
  for (const auto& m : models["models"]) types.push_back(m["name"]);
  for (const char* type : {"face", "object", "pose", "hand", "gesture", "text"}) {
    EXPECT_NE(std::find(types.begin(), types.end(), type), types.end()) << type;
  }
  const auto pose = Metadata("pose");
  EXPECT_EQ(pose["keypoint_names"].size(), 33u);
  EXPECT_EQ(pose["skeleton"].size(), 35u);  // MediaPipe's pose topology
  const auto hand = Metadata("hand");
  EXPECT_EQ(hand["keypoint_names"].size(), 21u);
  EXPECT_EQ(hand["skeleton"].size(), 21u);  // palm and five fingers
  EXPECT_EQ(Metadata("text")["skeleton"].size(), 4u);
  EXPECT_TRUE(Metadata("face")["skeleton"].empty());
  const auto gesture = Metadata("gesture");
  for (const char* g : {"open_palm", "fist", "pointing", "victory", "thumbs_up"}) {
    EXPECT_NE(gesture["labels"].dump().find(g), std::string::npos) << g;
  }
  const auto text = Metadata("text");
  EXPECT_NE(text.dump().find("\"texts\""), std::string::npos);
  EXPECT_NE(text["versions"].dump().find("tesseract"), std::string::npos);
}

TEST_F(TypesE2ETest, PoseOnTheAstronaut) {
  for (auto protocol : {client::Protocol::kV2Binary, client::Protocol::kV1}) {
    auto r = Infer("pose", "astronaut.png", protocol);
    ASSERT_EQ(r.detections.size(), 1u);
    const auto& pose = r.detections[0];
    ASSERT_EQ(pose.keypoints.size(), 33u);
    const auto* nose = Find(pose, "nose");
    const auto* shoulder = Find(pose, "left_shoulder");
    ASSERT_NE(nose, nullptr);
    ASSERT_NE(shoulder, nullptr);
    // Her face spans roughly x 175..275, y 80..175 in the 512x512 image.
    EXPECT_NEAR(nose->x, 225, 30);
    EXPECT_NEAR(nose->y, 128, 30);
    EXPECT_GT(nose->score, 0.5f);
    EXPECT_GT(shoulder->y, nose->y + 40);
  }
}

TEST_F(TypesE2ETest, TextOnThePrintedPage) {
  for (auto protocol : {client::Protocol::kV2Binary, client::Protocol::kV1}) {
    auto r = Infer("text", "page.png", protocol);
    ASSERT_GE(r.detections.size(), 3u);
    std::string all;
    for (const auto& d : r.detections) {
      EXPECT_EQ(d.keypoints.size(), 4u);
      EXPECT_FALSE(d.text.empty());
      all += d.text + " ";
    }
    // A word that is printed on scikit-image's page.png.
    EXPECT_NE(all.find("Region"), std::string::npos) << all;
  }
}

TEST_F(TypesE2ETest, GestureOfAPointingHand) {
  auto r = Infer("gesture", "hands/nocurl.jpg");
  ASSERT_EQ(r.detections.size(), 1u);
  EXPECT_EQ(r.detections[0].label, "pointing");
  EXPECT_EQ(r.detections[0].keypoints.size(), 21u);
  EXPECT_TRUE(r.detections[0].text == "left" || r.detections[0].text == "right")
      << r.detections[0].text;
}

TEST_F(TypesE2ETest, NoHandsOnACat) {
  EXPECT_TRUE(Infer("hand", "chelsea.png").detections.empty());
  EXPECT_TRUE(Infer("gesture", "chelsea.png").detections.empty());
}

TEST_F(TypesE2ETest, InferDrawWritesThePicture) {
  const std::string out =
      ::testing::TempDir() + "/heteroaccel_draw_pose_" + std::to_string(getpid()) + ".png";
  std::filesystem::remove(out);
  const std::string input = ModelsDir() + "/images/astronaut.png";
  auto p = testing::Subprocess::Start({testing::HeteroaccelBinary(), "infer", "--target", url_,
                                       "--model", "pose", "--draw", out, input});
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE((*p)->WaitForLine("drawn to", std::chrono::seconds(60))) << (*p)->Output();
  EXPECT_EQ((*p)->Stop(0, std::chrono::seconds(30)), 0) << (*p)->Output();
  const cv::Mat drawn = cv::imread(out);
  const cv::Mat original = cv::imread(input);
  ASSERT_FALSE(drawn.empty());
  ASSERT_EQ(drawn.size(), original.size());
  cv::Mat diff;
  cv::absdiff(drawn, original, diff);
  cv::cvtColor(diff, diff, cv::COLOR_BGR2GRAY);
  // A skeleton and a box: a few thousand pixels, not a blank or a copy.
  EXPECT_GT(cv::countNonZero(diff), 1000);
  EXPECT_LT(cv::countNonZero(diff), drawn.total() / 4);
  std::filesystem::remove(out);
}

}  // namespace
}  // namespace heteroaccel

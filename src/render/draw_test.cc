#include "render/draw.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <opencv2/imgcodecs.hpp>

namespace heteroaccel::render {
namespace {

using inference::Detection;

// Number of pixels that differ between two images.
int Changed(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  cv::Mat grey;
  cv::transform(diff, grey, cv::Matx13f(1, 1, 1));
  return cv::countNonZero(grey);
}

int ChangedIn(const cv::Mat& a, const cv::Mat& b, cv::Rect r) { return Changed(a(r), b(r)); }

const cv::Mat kGrey(200, 300, CV_8UC3, cv::Scalar(90, 90, 90));

TEST(DrawTest, LeavesTheInputAloneAndDrawsTheBox) {
  const cv::Mat input = kGrey.clone();
  Detection d;
  d.box = {100, 60, 200, 160};
  d.label = "face";
  d.score = 0.9f;
  const cv::Mat out = DrawDetections(input, {d});
  EXPECT_EQ(Changed(input, kGrey), 0);
  EXPECT_EQ(out.size(), input.size());
  EXPECT_GT(ChangedIn(out, input, {98, 100, 5, 20}), 0) << "left edge of the box";
  EXPECT_EQ(ChangedIn(out, input, {130, 100, 40, 40}), 0) << "inside stays untouched";
  EXPECT_EQ(ChangedIn(out, input, {250, 170, 40, 20}), 0) << "far away stays untouched";
}

TEST(DrawTest, JoinsTheSkeletonsKeypointsAndSkipsInvisibleOnes) {
  Detection pose;
  pose.box = {0, 0, 300, 200};
  pose.label = "person";
  pose.keypoints = {{"left_shoulder", 50, 100, 0.9f},
                    {"right_shoulder", 250, 100, 0.9f},
                    {"left_hip", 50, 180, 0.1f}};
  const cv::Mat out = DrawDetections(kGrey, {pose}, {{0, 1}, {0, 2}});
  EXPECT_GT(ChangedIn(out, kGrey, {140, 97, 20, 7}), 0) << "shoulder line";
  EXPECT_EQ(ChangedIn(out, kGrey, {45, 130, 10, 20}), 0) << "no edge to the hidden hip";
}

TEST(DrawTest, TextIsAQuadrilateralWithoutABox) {
  Detection line;
  line.box = {20, 20, 280, 180};
  line.label = "text";
  line.text = "HELLO";
  line.keypoints = {{"top_left", 40, 80},
                    {"top_right", 260, 80},
                    {"bottom_right", 260, 120},
                    {"bottom_left", 40, 120}};
  const cv::Mat out = DrawDetections(kGrey, {line}, inference::QuadrilateralSkeleton());
  EXPECT_GT(ChangedIn(out, kGrey, {140, 117, 20, 6}), 0) << "bottom edge of the quadrilateral";
  EXPECT_EQ(ChangedIn(out, kGrey, {18, 150, 5, 20}), 0) << "no axis-aligned box";
}

TEST(DrawTest, DrawToFileSaysWhatFailed) {
  EXPECT_EQ(DrawToFile("not an image", {}, {}, ::testing::TempDir() + "/heteroaccel_" + std::to_string(getpid()) + "_x.png").code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<uchar> png;
  cv::imencode(".png", kGrey, png);
  const std::string bytes(png.begin(), png.end());
  const absl::Status no_format = DrawToFile(bytes, {}, {}, ::testing::TempDir() + "/heteroaccel_" + std::to_string(getpid()) + "_x.nope");
  EXPECT_FALSE(no_format.ok());
  EXPECT_NE(no_format.message().find("cannot write"), std::string_view::npos) << no_format;
  const std::string path = ::testing::TempDir() + "/heteroaccel_draw_to_file_" + std::to_string(getpid()) + ".png";
  ASSERT_TRUE(DrawToFile(bytes, {}, {}, path).ok());
  EXPECT_EQ(cv::imread(path).size(), kGrey.size());
  std::remove(path.c_str());
}

TEST(DrawTest, NonAsciiTextBecomesQuestionMarks) {
  EXPECT_EQ(DrawableText("ab"), "ab");
  EXPECT_EQ(DrawableText("a\xe4\xb8\xad"
                         "b"),
            "a?b");
  EXPECT_EQ(DrawableText("x\ny"), "x y");
}

}  // namespace
}  // namespace heteroaccel::render

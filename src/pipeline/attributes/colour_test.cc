#include "pipeline/attributes/colour.h"

#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <string>

namespace heteroaccel::pipeline {
namespace {

// A 100x80 crop: the object's colour in the centre, `background` on a 15% border, plus
// Gaussian noise (sigma 12 per channel) from a fixed seed.
cv::Mat Crop(cv::Scalar object, cv::Scalar background, uint64_t seed = 1) {
  cv::Mat crop(80, 100, CV_8UC3, background);
  crop(cv::Rect(15, 12, 70, 56)).setTo(object);
  cv::Mat noise(crop.size(), CV_16SC3);
  cv::RNG rng(seed);
  rng.fill(noise, cv::RNG::NORMAL, 0, 12);
  cv::Mat noisy;
  crop.convertTo(noisy, CV_16SC3);
  noisy += noise;
  noisy.convertTo(crop, CV_8UC3);  // saturates
  return crop;
}

struct Case {
  std::string name;
  cv::Scalar bgr;
};

class DominantColourTest : public testing::TestWithParam<Case> {};

TEST_P(DominantColourTest, ReadsObjectColourDespiteNoiseAndBorder) {
  const Case& c = GetParam();
  // Backgrounds a box typically carries: tarmac, a saturated wall, sky.
  for (const cv::Scalar& background :
       {cv::Scalar(90, 90, 90), cv::Scalar(0, 200, 0), cv::Scalar(230, 180, 120)}) {
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      EXPECT_EQ(DominantColour(Crop(c.bgr, background, seed)), c.name)
          << "background " << background << " seed " << seed;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Palette, DominantColourTest,
    testing::Values(Case{"black", {15, 15, 15}}, Case{"white", {240, 240, 240}},
                    Case{"grey", {128, 128, 128}}, Case{"red", {30, 30, 200}},
                    Case{"orange", {0, 140, 255}}, Case{"yellow", {0, 220, 230}},
                    Case{"green", {40, 160, 40}}, Case{"cyan", {220, 220, 30}},
                    Case{"blue", {200, 60, 20}}, Case{"purple", {150, 40, 120}},
                    Case{"pink", {180, 105, 255}}, Case{"brown", {19, 69, 139}}),
    [](const testing::TestParamInfo<Case>& p) { return p.param.name; });

TEST(DominantColourTest, PaleRedReadsPink) {
  EXPECT_EQ(DominantColour(Crop({193, 182, 255}, {90, 90, 90})), "pink");
}

TEST(DominantColourTest, ColourBeatsHighlightsAndShadows) {
  // A blue car: 40% of its centre white highlight or black shadow.
  cv::Mat crop = Crop({200, 60, 20}, {90, 90, 90});
  crop(cv::Rect(15, 12, 35, 20)).setTo(cv::Scalar(250, 250, 250));
  crop(cv::Rect(50, 48, 35, 20)).setTo(cv::Scalar(5, 5, 5));
  EXPECT_EQ(DominantColour(crop), "blue");
}

TEST(DominantColourTest, IgnoresBorderEvenWhenSaturated) {
  // Without the border rule the red border (36% of the pixels) would win against grey.
  cv::Mat crop(100, 100, CV_8UC3, cv::Scalar(0, 0, 255));
  crop(cv::Rect(10, 10, 80, 80)).setTo(cv::Scalar(128, 128, 128));
  EXPECT_EQ(DominantColour(crop), "grey");
  EXPECT_EQ(DominantColour(crop, ColourOptions{.border = 0}), "red");
}

TEST(DominantColourTest, LargeCropsAreResizedWithTheSameAnswer) {
  cv::Mat crop(1200, 1600, CV_8UC3, cv::Scalar(40, 160, 40));
  EXPECT_EQ(DominantColour(crop), "green");
}

TEST(DominantColourTest, GreyImageAndBadInput) {
  EXPECT_EQ(DominantColour(cv::Mat(20, 20, CV_8UC1, cv::Scalar(250))), "white");
  EXPECT_EQ(DominantColour(cv::Mat()), "");
  EXPECT_EQ(DominantColour(cv::Mat(20, 20, CV_32FC3, cv::Scalar(0.5, 0.5, 0.5))), "");
  EXPECT_EQ(DominantColour(cv::Mat(20, 20, CV_8UC4, cv::Scalar(0, 0, 255, 255))), "");
  // 1x1 and 2x2 crops: the border leaves at least the centre pixel.
  EXPECT_EQ(DominantColour(cv::Mat(1, 1, CV_8UC3, cv::Scalar(30, 30, 200))), "red");
  EXPECT_EQ(DominantColour(cv::Mat(2, 2, CV_8UC3, cv::Scalar(30, 30, 200))), "red");
}

TEST(DominantColourTest, BoxInFrameIsClipped) {
  cv::Mat frame(100, 200, CV_8UC3, cv::Scalar(90, 90, 90));
  frame(cv::Rect(150, 50, 50, 50)).setTo(cv::Scalar(0, 220, 230));
  EXPECT_EQ(DominantColour(frame, Rect{155, 55, 260, 160}), "yellow");
  EXPECT_EQ(DominantColour(frame, Rect{300, 300, 400, 400}), "");
  EXPECT_EQ(DominantColour(frame, Rect{50, 50, 40, 60}), "");  // inverted
  EXPECT_EQ(DominantColour(frame, Rect{std::nanf(""), 0, 10, 10}), "grey");
  EXPECT_EQ(DominantColour(cv::Mat(), Rect{0, 0, 10, 10}), "");
}

TEST(DominantColourTest, PaletteIsTheDocumentedOne) {
  const auto p = ColourPalette();
  ASSERT_EQ(p.size(), 12u);
  EXPECT_EQ(p.front(), "black");
  EXPECT_EQ(p.back(), "brown");
}

}  // namespace
}  // namespace heteroaccel::pipeline

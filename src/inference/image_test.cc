#include "inference/image.h"

#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

namespace heteroaccel::inference {
namespace {

std::string Encode(const cv::Mat& image, const std::string& ext) {
  std::vector<uchar> buffer;
  cv::imencode(ext, image, buffer);
  return std::string(buffer.begin(), buffer.end());
}

TEST(DecodeImageTest, DecodesPngAndJpeg) {
  cv::Mat image(20, 30, CV_8UC3, cv::Scalar(10, 20, 30));
  for (const char* ext : {".png", ".jpg"}) {
    auto decoded = DecodeImage(Encode(image, ext));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->cols, 30);
    EXPECT_EQ(decoded->rows, 20);
  }
}

TEST(DecodeImageTest, RejectsWhatIsNotAnImage) {
  auto s = DecodeImage("hello world").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("neither JPEG nor PNG"), std::string::npos);
  EXPECT_NE(DecodeImage("").status().message().find("empty"), std::string::npos);
}

TEST(DecodeImageTest, RejectsCorruptData) {
  std::string png = Encode(cv::Mat(20, 30, CV_8UC3, cv::Scalar(1, 2, 3)), ".png");
  png.resize(40);
  auto s = DecodeImage(png).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("does not decode"), std::string::npos);
}

TEST(DecodeImageTest, RejectsHugePngBeforeDecoding) {
  std::string png = Encode(cv::Mat(2, 2, CV_8UC3), ".png");
  // Rewrite the IHDR width and height to 100000 x 100000.
  for (int at : {16, 20}) {
    png[at] = 0;
    png[at + 1] = 0x01;
    png[at + 2] = static_cast<char>(0x86);
    png[at + 3] = static_cast<char>(0xA0);
  }
  auto s = DecodeImage(png).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("100000x100000"), std::string::npos);
}

TEST(DecodeImageTest, RejectsHugeJpegBeforeDecoding) {
  // A small JPEG whose frame header is patched to announce 30000x30000 pixels:
  // decoding it would allocate gigabytes.
  std::string jpeg = Encode(cv::Mat(16, 16, CV_8UC3, cv::Scalar(1, 2, 3)), ".jpg");
  size_t sof = std::string::npos;
  for (size_t i = 2; i + 9 < jpeg.size(); ++i) {
    if (static_cast<unsigned char>(jpeg[i]) == 0xff &&
        static_cast<unsigned char>(jpeg[i + 1]) == 0xc0) {
      sof = i;
      break;
    }
  }
  ASSERT_NE(sof, std::string::npos);
  ASSERT_TRUE(DecodeImage(jpeg).ok());
  for (size_t at : {sof + 5, sof + 7}) {
    jpeg[at] = static_cast<char>(30000 >> 8);
    jpeg[at + 1] = static_cast<char>(30000 & 0xff);
  }
  auto s = DecodeImage(jpeg).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("30000x30000"), std::string::npos) << s;
  EXPECT_FALSE(DecodeImage(std::string("\xff\xd8\xff\xe0\x00", 5)).ok());
}

TEST(ImageFromRgbPixelsTest, ChecksSizeAndSwapsChannels) {
  const std::string pixels = {1, 2, 3, 4, 5, 6};
  auto image = ImageFromRgbPixels(pixels, 1, 2);
  ASSERT_TRUE(image.ok());
  EXPECT_EQ(image->at<cv::Vec3b>(0, 0), cv::Vec3b(3, 2, 1));
  EXPECT_EQ(ImageFromRgbPixels(pixels, 2, 2).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ImageFromRgbPixels(pixels, 0, 2).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(MakeNhwcBlobTest, LetterboxMapsBackToImagePixels) {
  cv::Mat image(100, 200, CV_8UC3, cv::Scalar(255, 255, 255));
  Placement p;
  cv::Mat blob = MakeNhwcBlob(image, {128, 128, Fit::kLetterbox, -1, 1, true}, &p);
  ASSERT_EQ(blob.dims, 4);
  EXPECT_EQ(blob.size[1], 128);
  EXPECT_FLOAT_EQ(p.pad_y, 32);
  // Padding is black (-1), the image itself white (+1).
  EXPECT_FLOAT_EQ(blob.ptr<float>()[0], -1.0f);
  EXPECT_FLOAT_EQ(blob.ptr<float>()[64 * 128 * 3], 1.0f);
  EXPECT_NEAR(p.ImageX(0.5f), 100.0f, 1e-3);
  EXPECT_NEAR(p.ImageY(32.0f / 128), 0.0f, 1e-3);
  EXPECT_NEAR(p.ImageY(96.0f / 128), 100.0f, 1e-3);
}

}  // namespace
}  // namespace heteroaccel::inference

#include "inference/image.h"

#include <cstring>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#include "absl/strings/str_cat.h"

namespace heteroaccel::inference {
namespace {

bool StartsWith(std::string_view bytes, std::string_view magic) {
  return bytes.size() >= magic.size() && bytes.substr(0, magic.size()) == magic;
}

uint32_t BigEndian32(std::string_view bytes, size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + at);
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

uint32_t BigEndian16(std::string_view bytes, size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + at);
  return (uint32_t{p[0]} << 8) | p[1];
}

absl::Status CheckPixels(int64_t width, int64_t height) {
  if (width * height > kMaxImagePixels) {
    return absl::InvalidArgumentError(
        absl::StrCat("image is ", width, "x", height, " pixels; the limit is ", kMaxImagePixels));
  }
  return absl::OkStatus();
}

// The size a PNG header announces, checked so an oversized image (a few
// hundred bytes can announce gigapixels) is refused before the decoder
// allocates for it.
absl::Status CheckPngSize(std::string_view bytes) {
  if (bytes.size() < 24) return absl::InvalidArgumentError("image is a truncated PNG");
  return CheckPixels(BigEndian32(bytes, 16), BigEndian32(bytes, 20));
}

// The same for a JPEG: its size is in the first start-of-frame segment
// (SOF0..SOF15 but DHT, JPG and DAC), found by walking the segments from the
// start-of-image marker.
absl::Status CheckJpegSize(std::string_view bytes) {
  size_t at = 2;  // after FF D8
  while (at + 4 <= bytes.size()) {
    if (static_cast<unsigned char>(bytes[at]) != 0xff) {
      return absl::InvalidArgumentError("image does not decode (JPEG data is corrupt)");
    }
    const auto marker = static_cast<unsigned char>(bytes[at + 1]);
    if (marker == 0xff) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {  // no length
      at += 2;
      continue;
    }
    if (marker == 0xd9 || marker == 0xda) break;  // end of image, start of scan
    const size_t length = BigEndian16(bytes, at + 2);
    const bool frame =
        marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
    if (frame) {
      if (length < 7 || at + 9 > bytes.size()) break;
      return CheckPixels(BigEndian16(bytes, at + 7), BigEndian16(bytes, at + 5));
    }
    if (length < 2) break;
    at += 2 + length;
  }
  return absl::InvalidArgumentError("image does not decode (no JPEG frame header)");
}

}  // namespace

absl::StatusOr<cv::Mat> DecodeImage(std::string_view bytes) {
  if (bytes.empty()) return absl::InvalidArgumentError("image is empty");
  const bool png = StartsWith(bytes, "\x89PNG\r\n\x1a\n");
  const bool jpeg = StartsWith(bytes, "\xff\xd8\xff");
  if (!png && !jpeg) {
    return absl::InvalidArgumentError(
        "image is neither JPEG nor PNG (send the encoded file bytes, or a UINT8 [H,W,3] tensor)");
  }
  if (absl::Status s = png ? CheckPngSize(bytes) : CheckJpegSize(bytes); !s.ok()) return s;
  cv::Mat image;
  try {
    const cv::Mat raw(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
    image = cv::imdecode(raw, cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("image does not decode: ", e.what()));
  }
  if (image.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("image does not decode (", png ? "PNG" : "JPEG", " data is corrupt)"));
  }
  return image;
}

absl::StatusOr<cv::Mat> ImageFromRgbPixels(std::string_view pixels, int64_t height, int64_t width) {
  if (height <= 0 || width <= 0 || height * width > kMaxImagePixels) {
    return absl::InvalidArgumentError(absl::StrCat("image shape [", height, ",", width,
                                                   ",3] is out of range (at most ", kMaxImagePixels,
                                                   " pixels)"));
  }
  if (static_cast<int64_t>(pixels.size()) != height * width * 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("image pixels: expected ", height * width * 3, " bytes, got ", pixels.size()));
  }
  cv::Mat rgb(static_cast<int>(height), static_cast<int>(width), CV_8UC3);
  std::memcpy(rgb.data, pixels.data(), pixels.size());
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  return bgr;
}

cv::Mat MakeNhwcBlob(const cv::Mat& bgr, const BlobOptions& o, Placement* placement) {
  Placement p;
  p.net_width = o.width;
  p.net_height = o.height;
  cv::Mat resized;
  if (o.fit == Fit::kLetterbox) {
    p.scale =
        std::min(static_cast<float>(o.width) / bgr.cols, static_cast<float>(o.height) / bgr.rows);
    p.scale_y = p.scale;
    const int w = std::max(1, static_cast<int>(std::lround(bgr.cols * p.scale)));
    const int h = std::max(1, static_cast<int>(std::lround(bgr.rows * p.scale)));
    const int left = (o.width - w) / 2;
    const int top = (o.height - h) / 2;
    p.pad_x = static_cast<float>(left);
    p.pad_y = static_cast<float>(top);
    // Resize straight into the middle of a black canvas.
    resized = cv::Mat(o.height, o.width, CV_8UC3, cv::Scalar::all(0));
    cv::Mat inner = resized(cv::Rect(left, top, w, h));
    cv::resize(bgr, inner, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
  } else {
    p.scale = static_cast<float>(o.width) / bgr.cols;
    p.scale_y = static_cast<float>(o.height) / bgr.rows;
    cv::resize(bgr, resized, cv::Size(o.width, o.height), 0, 0, cv::INTER_LINEAR);
  }
  // One pass: channel order, scaling and the float conversion, written straight
  // into the 4-D NHWC blob.
  const int dims[] = {1, o.height, o.width, 3};
  cv::Mat nhwc(4, dims, CV_32F);
  const float scale = (o.high - o.low) / 255.0f;
  float* out = nhwc.ptr<float>();
  const int first = o.rgb ? 2 : 0;  // which BGR channel goes first
  for (int y = 0; y < resized.rows; ++y) {
    const uchar* in = resized.ptr<uchar>(y);
    for (int x = 0; x < resized.cols; ++x, in += 3, out += 3) {
      out[0] = in[first] * scale + o.low;
      out[1] = in[1] * scale + o.low;
      out[2] = in[2 - first] * scale + o.low;
    }
  }
  if (placement != nullptr) *placement = p;
  return nhwc;
}

}  // namespace heteroaccel::inference

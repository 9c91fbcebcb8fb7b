// The `text` inference type: PP-OCRv4's building blocks (CTC decoding, DB
// post-processing, line cutting), then the accuracy of every text variant on
// strings rendered here with known ground truth and on scikit-image's page.png
// (CC0, fetched by `make setup`), measured as a character error rate.
#include <gtest/gtest.h>

#include <cstdlib>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "inference/catalog.h"
#include "inference/models/text_ppocr.h"
#include "inference/opencl_context.h"
#include "testing/models.h"

namespace heteroaccel::inference {
namespace {

// ---------------------------------------------------------------------------
// Character error rate

// Unicode code points of a UTF-8 string; a byte that starts no valid sequence
// counts as one character.
std::u32string CodePoints(std::string_view utf8) {
  std::u32string out;
  for (size_t i = 0; i < utf8.size();) {
    const auto lead = static_cast<unsigned char>(utf8[i]);
    const int length = lead < 0x80           ? 1
                       : (lead >> 5) == 0x6  ? 2
                       : (lead >> 4) == 0xE  ? 3
                       : (lead >> 3) == 0x1E ? 4
                                             : 1;
    char32_t c = length == 1 ? lead : lead & (0x7F >> length);
    size_t k = 1;
    for (; k < static_cast<size_t>(length) && i + k < utf8.size() &&
           (static_cast<unsigned char>(utf8[i + k]) & 0xC0) == 0x80;
         ++k) {
      c = (c << 6) | (static_cast<unsigned char>(utf8[i + k]) & 0x3F);
    }
    if (k != static_cast<size_t>(length)) c = lead, k = 1;  // truncated sequence
    out.push_back(c);
    i += k;
  }
  return out;
}

// Every run of whitespace (space, tab, newline) becomes one space; none at the ends.
std::string CollapseWhitespace(std::string_view s) {
  std::string out;
  bool pending_space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

size_t EditDistance(const std::u32string& a, const std::u32string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitution = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitution});
    }
  }
  return row[b.size()];
}

// Levenshtein distance between the two strings in Unicode code points, divided
// by the reference's length: case-sensitive, whitespace runs collapsed to one
// space and trimmed first (line breaks versus spaces are not errors). An empty
// reference counts as length 1.
double CharacterErrorRate(std::string_view reference, std::string_view hypothesis) {
  const std::u32string ref = CodePoints(CollapseWhitespace(reference));
  const std::u32string hyp = CodePoints(CollapseWhitespace(hypothesis));
  return static_cast<double>(EditDistance(ref, hyp)) / std::max<size_t>(ref.size(), 1);
}

TEST(CharacterErrorRateTest, IsZeroForIdenticalText) {
  EXPECT_EQ(CharacterErrorRate("KR 12 AB 3456", "KR 12 AB 3456"), 0.0);
  EXPECT_EQ(CharacterErrorRate("", ""), 0.0);
}

TEST(CharacterErrorRateTest, CountsSubstitutionsInsertionsAndDeletions) {
  EXPECT_DOUBLE_EQ(CharacterErrorRate("abcd", "abxd"), 0.25);   // substitution
  EXPECT_DOUBLE_EQ(CharacterErrorRate("abcd", "abcde"), 0.25);  // insertion
  EXPECT_DOUBLE_EQ(CharacterErrorRate("abcd", "acd"), 0.25);    // deletion
  EXPECT_DOUBLE_EQ(CharacterErrorRate("abcd", "dcba"), 1.0);
  EXPECT_DOUBLE_EQ(CharacterErrorRate("kitten", "sitting"), 3.0 / 6);
  // Relative to the reference, so it can exceed 1.
  EXPECT_DOUBLE_EQ(CharacterErrorRate("ab", "xyzw"), 2.0);
  EXPECT_DOUBLE_EQ(CharacterErrorRate("", "ab"), 2.0);
}

TEST(CharacterErrorRateTest, IsCaseSensitive) {
  EXPECT_DOUBLE_EQ(CharacterErrorRate("Fps", "fps"), 1.0 / 3);
}

TEST(CharacterErrorRateTest, CollapsesWhitespaceButCountsMissingSpaces) {
  EXPECT_EQ(CharacterErrorRate("a b\nc", "  a   b c\n"), 0.0);
  EXPECT_DOUBLE_EQ(CharacterErrorRate("a b c", "abc"), 2.0 / 5);
}

TEST(CharacterErrorRateTest, CountsCodePointsNotBytes) {
  EXPECT_EQ(CodePoints("a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80").size(), 4u);  // a é 中 😀
  EXPECT_DOUBLE_EQ(CharacterErrorRate("\xE4\xB8\xAD\xE6\x96\x87", "\xE4\xB8\xAD"), 0.5);  // 中文
  const std::string invalid = std::string(1, '\xFF') + "a";
  EXPECT_EQ(CodePoints(invalid).size(), 2u);  // an invalid byte is one character
}

// ---------------------------------------------------------------------------
// PP-OCR building blocks

TEST(PpOcrCtcTest, CollapsesRepeatsAndDropsBlanks) {
  const std::vector<std::string> charset = {"", "a", "b", " "};
  // Per step, the argmax: a a blank a b b space blank
  const std::vector<int> best = {1, 1, 0, 1, 2, 2, 3, 0};
  std::vector<float> probabilities(best.size() * charset.size(), 0.1f);
  for (size_t t = 0; t < best.size(); ++t) {
    probabilities[t * charset.size() + best[t]] = t == 3 ? 0.5f : 0.7f;
  }
  const ppocr::Decoded d =
      ppocr::CtcGreedyDecode(probabilities.data(), best.size(), charset.size(), charset);
  EXPECT_EQ(d.text, "aab ");
  EXPECT_EQ(d.characters, 4);
  EXPECT_FLOAT_EQ(d.score, (0.7f + 0.5f + 0.7f + 0.7f) / 4);
}

TEST(PpOcrCtcTest, AllBlankDecodesToNothing) {
  const std::vector<std::string> charset = {"", "a"};
  const std::vector<float> probabilities = {0.9f, 0.1f, 0.8f, 0.2f};
  const ppocr::Decoded d = ppocr::CtcGreedyDecode(probabilities.data(), 2, 2, charset);
  EXPECT_EQ(d.text, "");
  EXPECT_EQ(d.score, 0.0f);
}

TEST(PpOcrCornersTest, OrdersTopLeftTopRightBottomRightBottomLeft) {
  const ppocr::Quad q = ppocr::OrderCorners({{{50, 20}, {10, 25}, {52, 40}, {8, 44}}});
  EXPECT_EQ(q[0], cv::Point2f(10, 25));
  EXPECT_EQ(q[1], cv::Point2f(50, 20));
  EXPECT_EQ(q[2], cv::Point2f(52, 40));
  EXPECT_EQ(q[3], cv::Point2f(8, 44));
}

TEST(PpOcrDbTest, FindsAndUnclipsOneRegion) {
  cv::Mat probability(100, 200, CV_32F, cv::Scalar(0.05));
  probability(cv::Rect(40, 40, 100, 10)).setTo(0.9);  // the shrunk text kernel
  probability(cv::Rect(5, 80, 1, 1)).setTo(0.9);      // a speck: below min_size
  const std::vector<ppocr::TextBox> boxes = ppocr::DbBoxes(probability, {});
  ASSERT_EQ(boxes.size(), 1u);
  EXPECT_NEAR(boxes[0].score, 0.9, 0.05);
  // minAreaRect spans pixel centres (99 x 9); unclip adds d = 99*9*1.5/216 on each side.
  const float d = 99.0f * 9 * 1.5f / 216;
  const ppocr::Quad& q = boxes[0].quad;
  EXPECT_NEAR(q[0].x, 40 - d, 0.6);
  EXPECT_NEAR(q[0].y, 40 - d, 0.6);
  EXPECT_NEAR(q[2].x, 139 + d, 0.6);
  EXPECT_NEAR(q[2].y, 49 + d, 0.6);
}

TEST(PpOcrDbTest, DropsRegionsBelowTheBoxThreshold) {
  cv::Mat probability(64, 64, CV_32F, cv::Scalar(0));
  probability(cv::Rect(10, 10, 40, 10)).setTo(0.45);  // above 0.3, below the 0.6 box score
  EXPECT_TRUE(ppocr::DbBoxes(probability, {}).empty());
}

TEST(PpOcrWindowsTest, OneWindowOwnsAShortLine) {
  const std::vector<ppocr::Window> w = ppocr::LineWindows(301, 320, 240, 8);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].begin, 0);
  EXPECT_EQ(w[0].own_begin, 0);
  EXPECT_EQ(w[0].own_end, 304);  // the last, partly covered time step included
}

TEST(PpOcrWindowsTest, OverlappingWindowsOwnContiguousMiddles) {
  const int width = 1000;
  const std::vector<ppocr::Window> w = ppocr::LineWindows(width, 320, 240, 8);
  ASSERT_EQ(w.size(), 4u);  // begins 0, 240, 480, 720; the last reaches 1040 >= 1000
  EXPECT_EQ(w.front().own_begin, 0);
  EXPECT_EQ(w.back().own_end, width);
  for (size_t i = 0; i < w.size(); ++i) {
    EXPECT_EQ(w[i].begin, static_cast<int>(240 * i));
    EXPECT_EQ(w[i].begin % 8, 0);
    EXPECT_LT(w[i].own_begin, w[i].own_end);
    EXPECT_LE(w[i].own_end, w[i].begin + 320);
    if (i > 0) {
      EXPECT_EQ(w[i].own_begin, w[i - 1].own_end);
      EXPECT_EQ(w[i].own_begin - w[i].begin, 40);  // context on the left
    }
    if (i + 1 < w.size()) {
      EXPECT_EQ(w[i].begin + 320 - w[i].own_end, 40);  // and on the right
    }
  }
}

TEST(PpOcrCtcTest, JoinsWindowsIntoOnePath) {
  // A letter decided at the end of one window and again at the start of the next
  // (adjacent steps, no blank between) is one letter; a blank between makes two.
  const std::vector<std::string> charset = {"", "a", "b"};
  EXPECT_EQ(
      ppocr::CtcCollapse({{1, 0.9f}, {0, 0.9f}, {2, 0.9f}, /* window */ {2, 0.9f}}, charset).text,
      "ab");
  EXPECT_EQ(ppocr::CtcCollapse({{2, 0.9f}, {0, 0.9f}, {2, 0.9f}}, charset).text, "bb");
}

// ---------------------------------------------------------------------------
// Accuracy of the variants

using heteroaccel::testing::LoadImage;
using heteroaccel::testing::ModelsDir;

std::unique_ptr<Model> Load(std::string_view variant, Target target = Target::kCpu) {
  return heteroaccel::testing::LoadModel("text", variant, target);
}

// A dark string on a white canvas, optionally turned by a few degrees; `ink` is
// the exact bounding box of the drawn pixels.
struct Rendered {
  cv::Mat image;
  Box ink;
};

struct LineCase {
  const char* text;
  double scale;    // FONT_HERSHEY_DUPLEX scale: 1 is ~22 px capitals, 2 is ~44 px
  double degrees;  // counter-clockwise rotation of the whole canvas
};

Rendered Render(const LineCase& c) {
  const int font = cv::FONT_HERSHEY_DUPLEX;
  const int thickness = std::max(1, static_cast<int>(std::lround(1.5 * c.scale)));
  int baseline = 0;
  const cv::Size size = cv::getTextSize(c.text, font, c.scale, thickness, &baseline);
  // Off-centre on purpose, so a box in the wrong place cannot match by symmetry.
  const cv::Point origin(70, 50 + size.height);
  cv::Mat image(size.height + baseline + 130, size.width + 110, CV_8UC3, cv::Scalar::all(255));
  cv::putText(image, c.text, origin, font, c.scale, cv::Scalar(40, 30, 20), thickness, cv::LINE_AA);
  if (c.degrees != 0) {
    const cv::Mat turn =
        cv::getRotationMatrix2D(cv::Point2f(image.cols / 2.0f, image.rows / 2.0f), c.degrees, 1.0);
    cv::warpAffine(image, image, turn, image.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                   cv::Scalar::all(255));
  }
  cv::Mat grey, ink;
  cv::cvtColor(image, grey, cv::COLOR_BGR2GRAY);
  cv::threshold(grey, ink, 160, 255, cv::THRESH_BINARY_INV);
  const cv::Rect r = cv::boundingRect(ink);
  return {image,
          {static_cast<float>(r.x), static_cast<float>(r.y), static_cast<float>(r.x + r.width),
           static_cast<float>(r.y + r.height)}};
}

const LineCase kLines[] = {
    {"HETEROACCEL 2026", 1.0, 0},
    {"HETEROACCEL 2026", 2.0, 0},
    {"Edge inference at 45.9 fps", 1.0, 0},
    {"Edge inference at 45.9 fps", 2.0, 0},
    {"KR 12 AB 3456", 1.0, 0},
    {"KR 12 AB 3456", 2.0, 0},
    {"Edge inference at 45.9 fps", 1.5, 4},
    {"KR 12 AB 3456", 2.0, -3},
};

// scikit-image's page.png, transcribed by eye; the cut-off line under the code
// sample (a URL, mostly below the image border) is left out.
constexpr char kPageText[] =
    "Region-based segmentation\n"
    "Let us first determine markers of the coins and the\n"
    "background. These markers are pixels that we can label\n"
    "unambiguously as either object or background. Here,\n"
    "the markers are found at the two extreme parts of the\n"
    "histogram of grey values:\n"
    ">>> markers = np.zeros_like(coins)\n";

std::string Joined(const InferenceOutput& out) {
  std::string text;
  for (const Detection& d : out.detections) text += d.text + "\n";
  return text;
}

struct VariantLimits {
  const char* variant;
  double line_cer;  // per rendered line
  double mean_line_cer;
  double page_cer;
  float min_iou;  // detected line box vs the ink box
};

void PrintTo(const VariantLimits& limits, std::ostream* os) { *os << limits.variant; }

class TextModelTest : public ::testing::TestWithParam<VariantLimits> {};

// The detector may report a widely spaced line as several pieces (DB splits
// "KR 12 AB 3456" at its wide gaps): together they must cover the line and
// nothing else, and read it in order.
TEST_P(TextModelTest, ReadsRenderedLinesInTheRightPlace) {
  auto model = Load(GetParam().variant);
  ASSERT_NE(model, nullptr);
  double cer_sum = 0;
  for (const LineCase& c : kLines) {
    SCOPED_TRACE(::testing::Message()
                 << "'" << c.text << "' scale " << c.scale << " turned " << c.degrees << " deg");
    const Rendered r = Render(c);
    auto out = model->Run(r.image);
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_FALSE(out->detections.empty());
    Box all = out->detections[0].box;
    std::string text;
    for (const Detection& d : out->detections) {
      EXPECT_GT(IntersectionOverUnion(d.box, r.ink), 0.0f) << "stray '" << d.text << "'";
      all = {std::min(all.x1, d.box.x1), std::min(all.y1, d.box.y1), std::max(all.x2, d.box.x2),
             std::max(all.y2, d.box.y2)};
      text += (text.empty() ? "" : " ") + d.text;
    }
    const float iou = IntersectionOverUnion(all, r.ink);
    const double cer = CharacterErrorRate(c.text, text);
    std::printf("[ %s ] '%s' x%.1f %+.0f deg: '%s' (%zu pieces) IoU %.2f CER %.3f\n",
                GetParam().variant, c.text, c.scale, c.degrees, text.c_str(),
                out->detections.size(), iou, cer);
    EXPECT_GE(iou, GetParam().min_iou);
    EXPECT_LE(cer, GetParam().line_cer) << "read '" << text << "'";
    cer_sum += cer;
  }
  std::printf("[ %s ] mean CER over %zu rendered lines: %.3f\n", GetParam().variant,
              std::size(kLines), cer_sum / std::size(kLines));
  EXPECT_LE(cer_sum / std::size(kLines), GetParam().mean_line_cer);
}

TEST_P(TextModelTest, ReadsThePage) {
  auto model = Load(GetParam().variant);
  ASSERT_NE(model, nullptr);
  auto out = model->Run(LoadImage("page.png"));
  ASSERT_TRUE(out.ok()) << out.status();
  const std::string text = Joined(*out);
  const double cer = CharacterErrorRate(kPageText, text);
  std::printf("[ %s ] page.png: %zu lines, CER %.3f\n%s", GetParam().variant,
              out->detections.size(), cer, text.c_str());
  EXPECT_LE(cer, GetParam().page_cer) << text;
}

TEST_P(TextModelTest, ReportsLinesInTheTextSchema) {
  auto model = Load(GetParam().variant);
  ASSERT_NE(model, nullptr);
  const Rendered r = Render(kLines[1]);
  auto out = model->Run(r.image);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->image_width, r.image.cols);
  ASSERT_EQ(out->image_height, r.image.rows);
  ASSERT_FALSE(out->detections.empty());
  const std::vector<std::string> corners = {"top_left", "top_right", "bottom_right", "bottom_left"};
  for (const Detection& d : out->detections) {
    EXPECT_EQ(d.label, "text");
    EXPECT_EQ(d.class_id, 0);
    EXPECT_FALSE(d.text.empty());
    EXPECT_GT(d.score, 0.0f);
    EXPECT_LE(d.score, 1.0f);
    ASSERT_EQ(d.keypoints.size(), 4u);
    for (size_t k = 0; k < 4; ++k) {
      EXPECT_EQ(d.keypoints[k].name, corners[k]);
      EXPECT_GE(d.keypoints[k].x, d.box.x1 - 0.5f);
      EXPECT_LE(d.keypoints[k].x, d.box.x2 + 0.5f);
      EXPECT_GE(d.keypoints[k].y, d.box.y1 - 0.5f);
      EXPECT_LE(d.keypoints[k].y, d.box.y2 + 0.5f);
    }
    // Clockwise from the top left, for an upright line.
    EXPECT_LT(d.keypoints[0].x, d.keypoints[1].x);
    EXPECT_LT(d.keypoints[1].y, d.keypoints[2].y);
    EXPECT_GT(d.keypoints[2].x, d.keypoints[3].x);
  }
}

TEST_P(TextModelTest, FindsNothingOnAPlainCanvas) {
  auto model = Load(GetParam().variant);
  ASSERT_NE(model, nullptr);
  for (const cv::Scalar& colour : {cv::Scalar::all(255), cv::Scalar::all(128)}) {
    auto out = model->Run(cv::Mat(480, 640, CV_8UC3, colour));
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_TRUE(out->detections.empty()) << colour << ": '" << Joined(*out) << "'";
  }
}

TEST_P(TextModelTest, FindsAlmostNothingOnACat) {
  auto model = Load(GetParam().variant);
  ASSERT_NE(model, nullptr);
  auto out = model->Run(LoadImage("chelsea.png"));
  ASSERT_TRUE(out.ok()) << out.status();
  std::printf("[ %s ] chelsea.png: %zu lines '%s'\n", GetParam().variant, out->detections.size(),
              Joined(*out).c_str());
  EXPECT_LE(out->detections.size(), 1u) << Joined(*out);
}

TEST_P(TextModelTest, RejectsAnEmptyImage) {
  auto model = Load(GetParam().variant);
  ASSERT_NE(model, nullptr);
  auto out = model->Run(cv::Mat());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Variants, TextModelTest,
                         // Measured on Debian 12's OpenCV 4.6 / Tesseract 5.3 (x86-64):
                         // ppocr-v4: worst line 0.23 (missed spaces in the small "KR 12
                         // AB 3456"), mean 0.066, page 0.047, smallest IoU 0.81;
                         // tesseract-5: every line 0, page 0.017, IoU 1.0.
                         ::testing::Values(VariantLimits{"ppocr-v4", 0.35, 0.12, 0.10, 0.6f},
                                           VariantLimits{"tesseract-5", 0.10, 0.03, 0.06, 0.8f}),
                         [](const auto& test_param) {
                           std::string name = test_param.param.variant;
                           for (char& c : name) c = std::isalnum(c) ? c : '_';
                           return name;
                         });

// Images over 4000 px are read downscaled; the lines still come back in the
// input's pixels.
TEST(TesseractTest, ReadsAVeryLargeImageInItsOwnPixels) {
  auto model = Load("tesseract-5");
  ASSERT_NE(model, nullptr);
  const cv::Mat page = LoadImage("page.png");
  cv::Mat large;
  cv::resize(page, large, {}, 12, 12, cv::INTER_CUBIC);  // ~4600 px wide
  auto small_out = model->Run(page);
  auto large_out = model->Run(large);
  ASSERT_TRUE(small_out.ok() && large_out.ok());
  ASSERT_FALSE(small_out->detections.empty());
  ASSERT_FALSE(large_out->detections.empty());
  const Detection& a = small_out->detections[0];
  const Detection& b = large_out->detections[0];
  EXPECT_EQ(b.text, a.text);
  // Within 5 pixels of the original image (60 of the large one).
  EXPECT_NEAR(b.box.x1, 12 * a.box.x1, 60);
  EXPECT_NEAR(b.box.y2, 12 * a.box.y2, 60);
  EXPECT_LE(b.box.x2, large.cols);
}

TEST(TextCatalogTest, PpOcrIsTheDefaultAndTesseractIsCpuOnly) {
  auto first = Catalog::BuiltIn().Find("text");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ((*first)->variant, "ppocr-v4");
  EXPECT_TRUE((*first)->opencl);
  auto tesseract = Catalog::BuiltIn().Find("text", "tesseract-5");
  ASSERT_TRUE(tesseract.ok()) << tesseract.status();
  EXPECT_FALSE((*tesseract)->opencl);
  auto on_opencl = (*tesseract)->create({ModelsDir(), Target::kOpenCl, -1});
  EXPECT_EQ(on_opencl.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TextCatalogTest, MissingModelFilesSayToRunSetup) {
  auto spec = Catalog::BuiltIn().Find("text", "ppocr-v4");
  ASSERT_TRUE(spec.ok());
  auto model = (*spec)->create({"/nonexistent", Target::kCpu, -1});
  EXPECT_EQ(model.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(model.status().message().find("make setup"), std::string::npos);
}

// PoCL's CPU device when no GPU is present: the first run compiles kernels for
// tens of seconds, so one small image and the (small) printed page only.
TEST(TextOpenClTest, PpOcrReadsTheSameTextAsOnTheCpu) {
  auto device = InitOpenCl();
  if (!device.ok()) GTEST_SKIP() << device.status();
  const LineCase& line = kLines[2];  // "Edge inference at 45.9 fps", ~22 px capitals
  const Rendered r = Render(line);
  auto cpu = Load("ppocr-v4", Target::kCpu);
  auto opencl = Load("ppocr-v4", Target::kOpenCl);
  ASSERT_NE(cpu, nullptr);
  ASSERT_NE(opencl, nullptr);
  auto on_cpu = cpu->Run(r.image);
  auto on_opencl = opencl->Run(r.image);
  ASSERT_TRUE(on_cpu.ok()) << on_cpu.status();
  ASSERT_TRUE(on_opencl.ok()) << on_opencl.status();
  std::printf("OpenCL device %s (%s): '%s'\n", device->name.c_str(), device->type.c_str(),
              Joined(*on_opencl).c_str());
  ASSERT_EQ(on_opencl->detections.size(), on_cpu->detections.size());
  for (size_t i = 0; i < on_cpu->detections.size(); ++i) {
    const Detection& c = on_cpu->detections[i];
    const Detection& o = on_opencl->detections[i];
    EXPECT_EQ(o.text, c.text);
    EXPECT_NEAR(o.score, c.score, 1e-3);
    EXPECT_NEAR(o.box.x1, c.box.x1, 1.0);
    EXPECT_NEAR(o.box.y1, c.box.y1, 1.0);
    EXPECT_NEAR(o.box.x2, c.box.x2, 1.0);
    EXPECT_NEAR(o.box.y2, c.box.y2, 1.0);
  }
  EXPECT_LE(CharacterErrorRate(line.text, Joined(*on_opencl)), 0.1);

  // A second image of another size on the same network: OpenCV 4.6's OpenCL
  // path must not keep anything from the first input's shape.
  const cv::Mat page = LoadImage("page.png");
  auto page_cpu = cpu->Run(page);
  auto page_opencl = opencl->Run(page);
  ASSERT_TRUE(page_cpu.ok() && page_opencl.ok());
  EXPECT_EQ(page_opencl->detections.size(), page_cpu->detections.size());
  EXPECT_EQ(Joined(*page_opencl), Joined(*page_cpu));
}

}  // namespace
}  // namespace heteroaccel::inference

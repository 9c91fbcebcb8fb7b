#include "inference/models/text_tesseract.h"

#include <tesseract/baseapi.h>

#include <cstdlib>
#include <filesystem>
#include <opencv2/imgproc.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace heteroaccel::inference {
namespace {

constexpr char kLanguage[] = "eng";
constexpr char kDefaultTessdata[] = "/usr/share/tesseract-ocr/5/tessdata";
// Lines Tesseract is less sure of are mostly texture read as letters.
constexpr float kDefaultMinScore = 0.5f;

// Where eng.traineddata should be: TESSDATA_PREFIX as Tesseract reads it, else
// the Debian package's directory.
absl::StatusOr<std::string> TessdataDir() {
  const char* prefix = std::getenv("TESSDATA_PREFIX");
  const std::string dir = prefix != nullptr && *prefix != '\0' ? prefix : kDefaultTessdata;
  const std::filesystem::path file =
      std::filesystem::path(dir) / absl::StrCat(kLanguage, ".traineddata");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Tesseract language data ", file.string(),
        " is missing; install the Debian package tesseract-ocr-eng (or point TESSDATA_PREFIX "
        "at a directory holding ",
        kLanguage, ".traineddata)"));
  }
  return dir;
}

// Dark text on an even white background, which Tesseract's global (Otsu)
// binarisation needs: a photographed page is darker at one side, and there it
// loses whole lines otherwise. Light-on-dark images are inverted first; the
// background is estimated by a max filter wider than the strokes.
cv::Mat EvenBackground(const cv::Mat& image) {
  cv::Mat grey;
  if (image.channels() == 1) {
    grey = image.clone();
  } else {
    cv::cvtColor(image, grey, image.channels() == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
  }
  if (cv::mean(grey)[0] < 128) cv::bitwise_not(grey, grey);
  const int k = std::max(15, std::min(grey.cols, grey.rows) / 20) | 1;
  cv::Mat background;
  cv::dilate(grey, background, cv::getStructuringElement(cv::MORPH_RECT, {k, k}));
  cv::blur(background, background, {k, k});
  cv::divide(grey, background, grey, 255);
  return grey;
}

// `scale` maps Tesseract's pixels back to the input image's.
Detection LineDetection(tesseract::ResultIterator& it, std::string text, cv::Size image,
                        float scale) {
  int left = 0, top = 0, right = 0, bottom = 0;
  it.BoundingBox(tesseract::RIL_TEXTLINE, &left, &top, &right, &bottom);
  Detection d;
  d.label = "text";
  d.text = std::move(text);
  d.score = it.Confidence(tesseract::RIL_TEXTLINE) / 100.0f;
  d.box = {scale * static_cast<float>(left), scale * static_cast<float>(top),
           scale * static_cast<float>(right), scale * static_cast<float>(bottom)};
  const float xs[4] = {d.box.x1, d.box.x2, d.box.x2, d.box.x1};
  const float ys[4] = {d.box.y1, d.box.y1, d.box.y2, d.box.y2};
  for (int k = 0; k < 4; ++k)
    d.keypoints.push_back({QuadrilateralCornerNames()[k], xs[k], ys[k], 1});
  ClampToImage(d, image.width, image.height);
  return d;
}

class Tesseract5 final : public Model {
 public:
  explicit Tesseract5(float min_score) : min_score_(min_score) {}
  ~Tesseract5() override { api_.End(); }

  absl::Status Init(const std::string& tessdata) {
    if (api_.Init(tessdata.c_str(), kLanguage, tesseract::OEM_LSTM_ONLY) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("Tesseract could not load '", kLanguage, "' (LSTM) from ", tessdata));
    }
    api_.SetPageSegMode(tesseract::PSM_AUTO);
    api_.SetVariable("debug_file", "/dev/null");  // no "Estimating resolution" chatter
    return absl::OkStatus();
  }

  absl::StatusOr<InferenceOutput> Run(const cv::Mat& image) override {
    if (image.empty() || image.depth() != CV_8U) {
      return absl::InvalidArgumentError("text: expected a non-empty 8-bit image");
    }
    // Very large images are read at kMaxSide: layout analysis grows with the
    // pixel count, and text that small would not be readable anyway.
    const int longest = std::max(image.cols, image.rows);
    float scale = 1;
    if (longest > kMaxSide) {
      cv::Mat smaller;
      cv::resize(image, smaller, {}, static_cast<double>(kMaxSide) / longest,
                 static_cast<double>(kMaxSide) / longest, cv::INTER_AREA);
      scale = static_cast<float>(image.cols) / static_cast<float>(smaller.cols);
      grey_ = EvenBackground(smaller);
    } else {
      grey_ = EvenBackground(image);
    }
    RETURN_IF_ERROR(Recognize());
    InferenceOutput out{{}, image.cols, image.rows};
    std::unique_ptr<tesseract::ResultIterator> it(api_.GetIterator());
    if (it == nullptr) return out;  // nothing on the page
    do {
      std::unique_ptr<char[]> utf8(it->GetUTF8Text(tesseract::RIL_TEXTLINE));
      if (utf8 == nullptr) continue;
      std::string text(absl::StripAsciiWhitespace(utf8.get()));
      if (text.empty() || it->Confidence(tesseract::RIL_TEXTLINE) / 100.0f < min_score_) continue;
      out.detections.push_back(LineDetection(*it, std::move(text), image.size(), scale));
    } while (it->Next(tesseract::RIL_TEXTLINE));
    return out;
  }

  // Layout analysis and LSTM recognition of the last image again: Tesseract has
  // no separate network pass, so this is all of Run() but the background
  // levelling and the reading of results.
  absl::Status ForwardOnly() override {
    if (grey_.empty()) return absl::FailedPreconditionError("ForwardOnly before Run");
    return Recognize();
  }

 private:
  absl::Status Recognize() {
    api_.SetImage(grey_.data, grey_.cols, grey_.rows, 1, static_cast<int>(grey_.step));
    api_.SetSourceResolution(kSourcePpi);
    if (api_.Recognize(nullptr) != 0) return absl::InternalError("Tesseract recognition failed");
    return absl::OkStatus();
  }

  static constexpr int kSourcePpi = 300;
  static constexpr int kMaxSide = 4000;
  tesseract::TessBaseAPI api_;
  float min_score_;
  cv::Mat grey_;  // the last image, levelled; Tesseract reads it in place
};

}  // namespace

ModelSpec Tesseract5Spec() {
  ModelSpec spec;
  spec.type = "text";
  spec.variant = "tesseract-5";
  spec.description =
      "Tesseract 5 LSTM (English), CPU only: layout analysis and recognition of the whole image, "
      "one result per line";
  spec.labels = {"text"};
  spec.keypoint_names = QuadrilateralCornerNames();
  spec.skeleton = QuadrilateralSkeleton();
  spec.accuracy =
      "character error rate: page.png 0.017 (test limit 0.06); rendered lines 0 (limits 0.03 "
      "mean, 0.10 worst); boxes IoU 1.00; 0 lines on blank canvases (text_test.cc)";
  spec.opencl = false;
  spec.create = [](const ModelOptions& options) -> absl::StatusOr<std::unique_ptr<Model>> {
    if (options.target != Target::kCpu) {
      return absl::InvalidArgumentError("tesseract-5 runs on the CPU only");
    }
    ASSIGN_OR_RETURN(std::string tessdata, TessdataDir());
    const float min_score =
        options.score_threshold >= 0 ? options.score_threshold : kDefaultMinScore;
    auto model = std::make_unique<Tesseract5>(min_score);
    RETURN_IF_ERROR(model->Init(tessdata));
    return std::unique_ptr<Model>(std::move(model));
  };
  return spec;
}

}  // namespace heteroaccel::inference

// PP-OCRv4 text reading (PaddleOCR): DB text detection, a perspective crop of
// each detected line, and SVTR-LCNet recognition with greedy CTC decoding over
// PaddleOCR's 6623-character Chinese/English/digit dictionary.
//
// One Detection per text line: box = the axis-aligned bounds of the line's
// quadrilateral, keypoints = its four corners (top_left, top_right,
// bottom_right, bottom_left), text = the recognised UTF-8 string, score = the
// mean probability of the recognised characters.
//
// The recognition network has a fixed input width (320 px at height 48, see
// tools/models/patch_ppocr.py), so a longer line is read through overlapping
// 320-px windows: each window decides the CTC time steps in its middle, the
// steps are joined into one path and decoded once (no cut through a letter,
// and spaces come from the network).
//
// The pure helpers below (DB post-processing, corner ordering, windows, CTC
// decoding) are exposed for unit tests; they are thread-safe. The Model is
// not (it owns two cv::dnn::Net), like every Model.
#pragma once

#include <array>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "inference/model.h"

namespace heteroaccel::inference {

ModelSpec PpOcrV4Spec();

namespace ppocr {

// Corners in the order top_left, top_right, bottom_right, bottom_left.
using Quad = std::array<cv::Point2f, 4>;

// PaddleOCR's ordering of a rotated rectangle's corners: the two leftmost
// points are the left side (upper one first), the two others the right side.
Quad OrderCorners(const std::array<cv::Point2f, 4>& points);

struct DbOptions {
  float threshold = 0.3f;      // probability that makes a pixel text
  float box_threshold = 0.6f;  // minimum mean probability inside a region
  float unclip_ratio = 1.5f;   // the box grows by area * ratio / perimeter on each side
  float min_size = 3;          // boxes with a shorter side (map pixels) are dropped
  int max_candidates = 1000;
};

struct TextBox {
  Quad quad;  // in probability-map pixels
  float score = 0;
};

// DB post-processing of a CV_32F probability map: binarise, score each
// connected region (mean probability inside its outline), take its
// minimum-area rectangle and expand ("unclip") it.
std::vector<TextBox> DbBoxes(const cv::Mat& probability, const DbOptions& options);

// The recognition windows over a line `width` pixels wide (at the network's
// input height): `window` pixels each, every `stride` pixels. Each window
// decides the time steps of the middle part it owns, where it sees enough
// context on both sides; the first owns from 0, the last to the end. All
// values are multiples of `step` (the pixels per output time step) when
// `window` and `stride` are.
struct Window {
  int begin = 0;      // the window covers [begin, begin + window), padded past the line
  int own_begin = 0;  // and decides the time steps covering [own_begin, own_end)
  int own_end = 0;
};
std::vector<Window> LineWindows(int width, int window, int stride, int step);

// The most probable class of one output time step.
struct Step {
  int best = 0;
  float probability = 0;
};

// Appends the best class of time steps [first, end) of a [T, classes] matrix.
void AppendBestPath(const float* probabilities, int first, int end, int classes,
                    std::vector<Step>& path);

struct Decoded {
  std::string text;
  float score = 0;  // mean probability of the kept characters; 0 when none
  int characters = 0;
};

// Greedy CTC: repeats collapsed, blanks (class 0) dropped. `charset[i]` is the
// string for class i (charset[0], the blank, is never emitted).
Decoded CtcCollapse(const std::vector<Step>& path, const std::vector<std::string>& charset);

// AppendBestPath over all `steps`, then CtcCollapse.
Decoded CtcGreedyDecode(const float* probabilities, int steps, int classes,
                        const std::vector<std::string>& charset);

}  // namespace ppocr
}  // namespace heteroaccel::inference

// Tesseract 5 text reading (LSTM engine, English), a CPU-only alternative to
// PP-OCR: layout analysis and recognition of the whole image, one Detection per
// text line in the same schema as the `text` type's other variants (box = the
// line's bounds, keypoints = its four corners, text = the UTF-8 string, score =
// Tesseract's line confidence / 100).
//
// The language data comes from the Debian package tesseract-ocr-eng (the
// directory in TESSDATA_PREFIX when that is set). TessBaseAPI is not
// thread-safe: each Model owns one, used by its slot's thread only.
#pragma once

#include "inference/model.h"

namespace heteroaccel::inference {

ModelSpec Tesseract5Spec();

}  // namespace heteroaccel::inference

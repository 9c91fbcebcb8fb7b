// Accuracy of a multi-object tracker against ground truth: CLEAR-MOT (MOTA,
// MOTP; Bernardin & Stiefelhagen 2008) and the identity measures (IDF1, IDP,
// IDR; Ristani et al. 2016), for tests and offline evaluation.
//
// Frame by frame (AddFrame), a ground-truth object and a hypothesis (a track's
// box) correspond when their IoU >= iou_threshold (0.5 by default). As in
// CLEAR-MOT, a pair that corresponded in an earlier frame is kept while still
// valid; the rest are matched by a maximum-IoU assignment (dlib's Hungarian
// solver). A ground-truth object whose hypothesis differs from the one it last
// corresponded to counts an identity switch. Then
//   MOTA = 1 - (FN + FP + IDSW) / GT  (GT: ground-truth boxes over all frames),
//   MOTP = mean IoU of the corresponding pairs (higher is better).
// IDF1 matches whole trajectories once, globally: each ground-truth id to at
// most one hypothesis id, maximising IDTP, the frames where the matched pair
// overlaps by iou_threshold; IDFP/IDFN are the hypothesis/ground-truth boxes
// outside it and IDF1 = 2 IDTP / (2 IDTP + IDFP + IDFN).
//
// Thread-compatible. Memory grows with the number of distinct (truth, hypothesis)
// id pairs that ever overlapped.
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "pipeline/types.h"

namespace heteroaccel::pipeline {

struct MotBox {
  uint64_t id = 0;
  Rect box;
};

struct MotMetrics {
  int64_t frames = 0;
  int64_t gt = 0;          // ground-truth boxes
  int64_t hypotheses = 0;  // hypothesis boxes
  int64_t matches = 0;
  int64_t fn = 0;
  int64_t fp = 0;
  int64_t id_switches = 0;
  double mota = 0;  // 1 when there is no ground truth and no hypothesis
  double motp = 0;  // mean IoU of matches; 0 when none
  int64_t idtp = 0, idfp = 0, idfn = 0;
  double idf1 = 0, idp = 0, idr = 0;  // 1 when both sides are empty
};

class MotAccumulator {
 public:
  explicit MotAccumulator(float iou_threshold = 0.5f) : threshold_(iou_threshold) {}

  // One frame's ground truth and hypotheses; ids unique within each list.
  void AddFrame(const std::vector<MotBox>& truth, const std::vector<MotBox>& hypotheses);

  MotMetrics Compute() const;

 private:
  float threshold_;
  MotMetrics clear_;  // CLEAR-MOT counts so far
  double iou_sum_ = 0;
  std::map<uint64_t, uint64_t> last_match_;                    // truth id -> hypothesis id
  std::map<uint64_t, int64_t> truth_boxes_, hyp_boxes_;        // per id
  std::map<std::pair<uint64_t, uint64_t>, int64_t> overlaps_;  // (truth, hyp) -> frames
};

}  // namespace heteroaccel::pipeline

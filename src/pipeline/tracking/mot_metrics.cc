#include "pipeline/tracking/mot_metrics.h"

#include "pipeline/tracking/internal/assignment.h"

namespace heteroaccel::pipeline {

void MotAccumulator::AddFrame(const std::vector<MotBox>& truth,
                              const std::vector<MotBox>& hypotheses) {
  ++clear_.frames;
  clear_.gt += static_cast<int64_t>(truth.size());
  clear_.hypotheses += static_cast<int64_t>(hypotheses.size());
  for (const MotBox& g : truth) ++truth_boxes_[g.id];
  for (const MotBox& h : hypotheses) ++hyp_boxes_[h.id];

  std::vector<float> iou(truth.size() * hypotheses.size());
  for (size_t g = 0; g < truth.size(); ++g) {
    for (size_t h = 0; h < hypotheses.size(); ++h) {
      const float v = IoU(truth[g].box, hypotheses[h].box);
      iou[g * hypotheses.size() + h] = v;
      if (v >= threshold_) ++overlaps_[{truth[g].id, hypotheses[h].id}];
    }
  }

  // Correspondences of the previous frames, kept while still valid.
  std::vector<char> g_used(truth.size(), 0), h_used(hypotheses.size(), 0);
  int64_t matched = 0;
  for (size_t g = 0; g < truth.size(); ++g) {
    auto last = last_match_.find(truth[g].id);
    if (last == last_match_.end()) continue;
    for (size_t h = 0; h < hypotheses.size(); ++h) {
      if (h_used[h] || hypotheses[h].id != last->second) continue;
      if (iou[g * hypotheses.size() + h] >= threshold_) {
        g_used[g] = h_used[h] = 1;
        iou_sum_ += iou[g * hypotheses.size() + h];
        ++matched;
      }
      break;
    }
  }
  // The rest by maximum IoU.
  std::vector<float> rest = iou;
  for (size_t g = 0; g < truth.size(); ++g) {
    for (size_t h = 0; h < hypotheses.size(); ++h) {
      if (g_used[g] || h_used[h]) rest[g * hypotheses.size() + h] = -1;
    }
  }
  for (const auto& [g, h] :
       internal::MaxScoreMatching(rest, truth.size(), hypotheses.size(), threshold_)) {
    auto [it, inserted] = last_match_.try_emplace(truth[g].id, hypotheses[h].id);
    if (!inserted && it->second != hypotheses[h].id) {
      ++clear_.id_switches;
      it->second = hypotheses[h].id;
    }
    iou_sum_ += iou[g * hypotheses.size() + h];
    ++matched;
  }
  clear_.matches += matched;
  clear_.fn += static_cast<int64_t>(truth.size()) - matched;
  clear_.fp += static_cast<int64_t>(hypotheses.size()) - matched;
}

MotMetrics MotAccumulator::Compute() const {
  MotMetrics m = clear_;
  m.mota = m.gt > 0 ? 1.0 - static_cast<double>(m.fn + m.fp + m.id_switches) / m.gt
                    : (m.hypotheses == 0 ? 1.0 : 0.0);
  m.motp = m.matches > 0 ? iou_sum_ / m.matches : 0;

  // Global trajectory assignment for IDF1: rows truth ids, columns hypothesis ids.
  std::map<uint64_t, size_t> row, col;
  for (const auto& [ids, n] : overlaps_) {
    row.try_emplace(ids.first, row.size());
    col.try_emplace(ids.second, col.size());
  }
  std::vector<long> weights(row.size() * col.size(), 0);
  for (const auto& [ids, n] : overlaps_) {
    weights[row[ids.first] * col.size() + col[ids.second]] = static_cast<long>(n);
  }
  for (const auto& [r, c] : internal::MaxWeightMatching(weights, row.size(), col.size())) {
    m.idtp += weights[r * col.size() + c];
  }
  m.idfn = m.gt - m.idtp;
  m.idfp = m.hypotheses - m.idtp;
  const int64_t denom = m.gt + m.hypotheses;
  m.idf1 = denom > 0 ? 2.0 * static_cast<double>(m.idtp) / static_cast<double>(denom) : 1.0;
  m.idp = m.hypotheses > 0 ? static_cast<double>(m.idtp) / m.hypotheses : (m.gt == 0 ? 1.0 : 0.0);
  m.idr = m.gt > 0 ? static_cast<double>(m.idtp) / m.gt : (m.hypotheses == 0 ? 1.0 : 0.0);
  return m;
}

}  // namespace heteroaccel::pipeline

#include "pipeline/tracking/internal/assignment.h"

#include <dlib/optimization/max_cost_assignment.h>

#include <algorithm>
#include <cmath>

namespace heteroaccel::pipeline::internal {

std::vector<std::pair<size_t, size_t>> MaxWeightMatching(const std::vector<long>& weights,
                                                         size_t rows, size_t cols) {
  std::vector<std::pair<size_t, size_t>> out;
  if (rows == 0 || cols == 0 || weights.size() < rows * cols) return out;
  std::vector<size_t> live_rows, live_cols;
  std::vector<char> col_live(cols, 0);
  for (size_t r = 0; r < rows; ++r) {
    bool any = false;
    for (size_t c = 0; c < cols; ++c) {
      if (weights[r * cols + c] > 0) {
        any = true;
        col_live[c] = 1;
      }
    }
    if (any) live_rows.push_back(r);
  }
  for (size_t c = 0; c < cols; ++c) {
    if (col_live[c]) live_cols.push_back(c);
  }
  if (live_rows.empty()) return out;

  // dlib wants a square matrix; padding rows/columns weigh 0, as do disallowed
  // pairs, and pairs of weight 0 are dropped from the answer.
  const size_t n = std::max(live_rows.size(), live_cols.size());
  dlib::matrix<long> cost(static_cast<long>(n), static_cast<long>(n));
  cost = 0;
  for (size_t i = 0; i < live_rows.size(); ++i) {
    for (size_t j = 0; j < live_cols.size(); ++j) {
      cost(static_cast<long>(i), static_cast<long>(j)) =
          std::max(0L, weights[live_rows[i] * cols + live_cols[j]]);
    }
  }
  const std::vector<long> assignment = dlib::max_cost_assignment(cost);
  for (size_t i = 0; i < live_rows.size(); ++i) {
    const auto j = static_cast<size_t>(assignment[i]);
    if (j < live_cols.size() && cost(static_cast<long>(i), static_cast<long>(j)) > 0) {
      out.emplace_back(live_rows[i], live_cols[j]);
    }
  }
  return out;
}

std::vector<std::pair<size_t, size_t>> MaxScoreMatching(const std::vector<float>& scores,
                                                        size_t rows, size_t cols, float min_score) {
  if (scores.size() < rows * cols) return {};
  // Scores become integers with a resolution of 1e-6 (plus 1, so an allowed pair
  // of score 0 still counts); sums over thousands of pairs stay far from overflow.
  std::vector<long> weights(rows * cols, 0);
  for (size_t k = 0; k < rows * cols; ++k) {
    const float s = scores[k];
    if (std::isfinite(s) && s >= min_score) {
      weights[k] = 1 + std::lround(std::clamp(static_cast<double>(s), 0.0, 1.0) * 1e6);
    }
  }
  return MaxWeightMatching(weights, rows, cols);
}

}  // namespace heteroaccel::pipeline::internal

#include "scheduler/internal/fluid_lp.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>

namespace heteroaccel::scheduler::internal {
namespace {

constexpr double kEpsilon = 1e-12;

// Dense tableau simplex for: maximise c.x subject to A x <= b, x >= 0, with b >= 0,
// so the slack basis is feasible from the start. Bland's rule (lowest index enters,
// lowest basic index leaves on ties) rules out cycling on the degenerate rows.
class Simplex {
 public:
  Simplex(size_t rows, size_t cols)
      : rows_(rows),
        cols_(cols),
        width_(cols + rows + 1),
        tab_((rows + 1) * width_, 0.0),
        basis_(rows) {
    for (size_t i = 0; i < rows; ++i) {
      At(i, cols + i) = 1.0;
      basis_[i] = cols + i;
    }
  }
  double& At(size_t row, size_t col) { return tab_[row * width_ + col]; }
  double& Rhs(size_t row) { return At(row, width_ - 1); }
  void SetObjective(size_t col, double c) { At(rows_, col) = -c; }
  // After Solve: the objective row's entry for a column; for a slack column, the dual
  // price of its row; for a structural one, its reduced cost (>= 0 at the optimum).
  double Reduced(size_t col) { return At(rows_, col); }

  double Solve() {
    const size_t max_pivots = 50 * (rows_ + cols_) + 100;
    for (size_t pivots = 0; pivots < max_pivots; ++pivots) {
      size_t enter = width_;
      for (size_t j = 0; j + 1 < width_; ++j) {
        if (At(rows_, j) < -kEpsilon) {
          enter = j;
          break;
        }
      }
      if (enter == width_) break;  // optimal
      size_t leave = rows_;
      double best = 0;
      for (size_t i = 0; i < rows_; ++i) {
        const double a = At(i, enter);
        if (a <= kEpsilon) continue;
        const double ratio = Rhs(i) / a;
        if (leave == rows_ || ratio < best - kEpsilon ||
            (std::abs(ratio - best) <= kEpsilon && basis_[i] < basis_[leave])) {
          leave = i;
          best = ratio;
        }
      }
      if (leave == rows_) return INFINITY;  // unbounded
      Pivot(leave, enter);
    }
    return Rhs(rows_);
  }

 private:
  void Pivot(size_t row, size_t col) {
    const double p = At(row, col);
    for (size_t j = 0; j < width_; ++j) At(row, j) /= p;
    for (size_t i = 0; i <= rows_; ++i) {
      if (i == row) continue;
      const double f = At(i, col);
      if (std::abs(f) <= kEpsilon) continue;
      for (size_t j = 0; j < width_; ++j) At(i, j) -= f * At(row, j);
    }
    basis_[row] = col;
  }

  size_t rows_;
  size_t cols_;
  size_t width_;
  std::vector<double> tab_;
  std::vector<size_t> basis_;
};

}  // namespace

double MaxMixRate(const std::vector<double>& share, const std::vector<std::vector<double>>& seconds,
                  const std::vector<double>& slots) {
  return SolveFluid(share, seconds, slots).rate;
}

FluidSolution SolveFluid(const std::vector<double>& share,
                         const std::vector<std::vector<double>>& seconds,
                         const std::vector<double>& slots) {
  FluidSolution out;
  const size_t types = share.size();
  const size_t devices = slots.size();
  const double total = std::accumulate(share.begin(), share.end(), 0.0);
  if (types == 0 || total <= 0) return out;
  // Column 0 is the rate r; then one column per runnable (type, device) pair.
  std::vector<std::vector<size_t>> column(types, std::vector<size_t>(devices, 0));
  size_t cols = 1;
  for (size_t t = 0; t < types; ++t) {
    bool runnable = false;
    for (size_t d = 0; d < devices; ++d) {
      if (seconds[t][d] > 0 && slots[d] > 0) {
        column[t][d] = cols++;
        runnable = true;
      }
    }
    if (share[t] > 0 && !runnable) return out;
  }
  Simplex lp(types + devices, cols);
  lp.SetObjective(0, 1.0);
  for (size_t t = 0; t < types; ++t) {
    // share[t] / total * r - sum_d x[t][d] <= 0
    lp.At(t, 0) = share[t] / total;
    for (size_t d = 0; d < devices; ++d) {
      if (column[t][d] != 0) lp.At(t, column[t][d]) = -1.0;
    }
  }
  for (size_t d = 0; d < devices; ++d) {
    // sum_t x[t][d] * seconds[t][d] / slots[d] <= 1
    const size_t row = types + d;
    lp.Rhs(row) = 1.0;
    for (size_t t = 0; t < types; ++t) {
      if (column[t][d] != 0) lp.At(row, column[t][d]) = seconds[t][d] / slots[d];
    }
  }
  out.rate = lp.Solve();
  if (!std::isfinite(out.rate)) return out;
  out.waste.assign(types, std::vector<double>(devices, 1.0));
  for (size_t t = 0; t < types; ++t) {
    for (size_t d = 0; d < devices; ++d) {
      if (column[t][d] == 0) continue;
      // Reduced cost = price(d) * seconds / slots - value(t); relative to the first
      // term, the share of the device time the pair would not pay back.
      const double price = lp.Reduced(cols + types + d) * seconds[t][d] / slots[d];
      const double reduced = std::max(0.0, lp.Reduced(column[t][d]));
      out.waste[t][d] = price > kEpsilon ? std::clamp(reduced / price, 0.0, 1.0) : 0.0;
    }
  }
  return out;
}

}  // namespace heteroaccel::scheduler::internal

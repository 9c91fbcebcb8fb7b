// Maximum-weight bipartite matching for the tracker and its metrics, through
// dlib's max_cost_assignment (the Hungarian method on an integer matrix).
//
// Scores are floats in [0, 1] (IoU); pairs below `min_score` are not allowed.
// Only rows and columns with at least one allowed pair enter the solve, so the
// cubic cost is paid on the objects that can actually match.
// Pure function; thread-safe.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace heteroaccel::pipeline::internal {

// scores[r][c] for r < rows, c < cols (row-major, rows * cols values). Returns
// the (row, col) pairs of a matching that maximises the sum of their scores,
// every pair's score >= min_score, sorted by row.
std::vector<std::pair<size_t, size_t>> MaxScoreMatching(const std::vector<float>& scores,
                                                        size_t rows, size_t cols, float min_score);

// The same on integer weights: pairs with weight > 0 are allowed, the matching
// maximises the sum of weights. Weights must stay below 2^40 each.
std::vector<std::pair<size_t, size_t>> MaxWeightMatching(const std::vector<long>& weights,
                                                         size_t rows, size_t cols);

}  // namespace heteroaccel::pipeline::internal

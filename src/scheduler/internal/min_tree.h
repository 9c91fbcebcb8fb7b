// MinTree: a tournament tree over positions 0..n-1, each holding a key or
// nothing; Set is O(log n), Min is O(1).
//
// A key is a (bound, tie) pair compared in that order, and `tie`'s low 32 bits
// are its position, so that keys are distinct and Min names where it is. The
// scheduler's finish index (state.h) keeps one per inference type to find the
// device with the least lower bound on a request's finish without scanning
// every device. Not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <vector>

#include "scheduler/internal/slot_schedule.h"

namespace heteroaccel::scheduler::internal {

struct TreeKey {
  Ticks bound = kNever;
  uint64_t tie = std::numeric_limits<uint64_t>::max();

  bool absent() const { return tie == std::numeric_limits<uint64_t>::max(); }
  int32_t position() const { return static_cast<int32_t>(tie & 0xffffffffu); }
  friend bool operator<(const TreeKey& a, const TreeKey& b) {
    return a.bound < b.bound || (a.bound == b.bound && a.tie < b.tie);
  }
  friend bool operator==(const TreeKey& a, const TreeKey& b) {
    return a.bound == b.bound && a.tie == b.tie;
  }
};

// K keys per position, each with its own minimum, so that one walk up the tree
// keeps K orders of the same positions.
template <int K>
class MultiMinTree {
 public:
  using Keys = std::array<TreeKey, K>;

  // Forgets every key; positions 0..n-1.
  void Reset(int32_t n) {
    leaves_ = 1;
    while (leaves_ < n) leaves_ *= 2;
    nodes_.assign(2 * static_cast<size_t>(leaves_), Keys{});
  }
  // Each key must be absent or have `pos` in its low 32 bits. The walk up reads
  // only what the change can move: a key that fell replaces the minima it is
  // below; one that rose is replaced by its sibling's where it was the minimum.
  // Either way the walk of an order stops at the first node it leaves alone.
  void Set(int32_t pos, const Keys& keys) {
    const size_t leaf = static_cast<size_t>(leaves_ + pos);
    const Keys old = nodes_[leaf];
    nodes_[leaf] = keys;
    for (size_t k = 0; k < K; ++k) {
      const TreeKey key = keys[k];
      const TreeKey was = old[k];
      if (key == was) continue;
      size_t i = leaf / 2;
      if (key < was) {
        for (; i >= 1 && key < nodes_[i][k]; i /= 2) nodes_[i][k] = key;
      } else {
        for (; i >= 1 && nodes_[i][k] == was; i /= 2) {
          const TreeKey& left = nodes_[2 * i][k];
          const TreeKey& right = nodes_[2 * i + 1][k];
          nodes_[i][k] = right < left ? right : left;
        }
      }
    }
  }
  void Clear(int32_t pos) { Set(pos, Keys{}); }
  const Keys& at(int32_t pos) const { return nodes_[static_cast<size_t>(leaves_ + pos)]; }
  // The least key of order k (absent when the tree holds none).
  const TreeKey& Min(int k = 0) const { return nodes_[1][static_cast<size_t>(k)]; }
  // The least key of order k but `pos`'s: the path's siblings, read only.
  TreeKey MinExcept(int32_t pos, int k) const {
    TreeKey least;
    for (size_t i = static_cast<size_t>(leaves_ + pos); i > 1; i /= 2) {
      const TreeKey& sibling = nodes_[i ^ 1][static_cast<size_t>(k)];
      if (sibling < least) least = sibling;
    }
    return least;
  }

 private:
  int32_t leaves_ = 1;
  std::vector<Keys> nodes_ = std::vector<Keys>(2);
};

using MinTree = MultiMinTree<1>;

}  // namespace heteroaccel::scheduler::internal

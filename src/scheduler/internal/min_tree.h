// MinTree: a tournament tree over positions 0..n-1, each holding a key or
// nothing; Set is O(log n), Min is O(1). Four-way: half the levels of a binary
// tree, and a node's children side by side in memory.
//
// A key is a (bound, tie) pair compared in that order, and `tie`'s low 32 bits
// are its position, so that keys are distinct and Min names where it is. The
// scheduler's finish index (state.h) keeps one per inference type to find the
// device with the least lower bound on a request's finish without scanning
// every device. Not thread-safe.
#pragma once

#include <algorithm>
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
    size_t leaves = 1;
    while (leaves < static_cast<size_t>(n)) leaves *= kWays;
    first_leaf_ = (leaves - 1) / (kWays - 1);  // the nodes above the leaves
    nodes_.assign(kPad + first_leaf_ + leaves, Keys{});
  }
  // Each key must be absent or have `pos` in its low 32 bits. The walk up reads
  // only what the change can move: a key that fell replaces the minima it is
  // below; one that rose is replaced by its siblings' where it was the minimum.
  // Either way the walk of an order stops at the first node it leaves alone.
  void Set(int32_t pos, const Keys& keys) {
    const size_t leaf = first_leaf_ + static_cast<size_t>(pos);
    const Keys old = node(leaf);
    node(leaf) = keys;
    for (size_t k = 0; k < K; ++k) {
      const TreeKey key = keys[k];
      const TreeKey was = old[k];
      if (key == was) continue;
      if (key < was) {
        for (size_t i = leaf; i > 0;) {
          i = Parent(i);
          if (!(key < node(i)[k])) break;
          node(i)[k] = key;
        }
      } else {
        for (size_t i = leaf; i > 0;) {
          i = Parent(i);
          if (!(node(i)[k] == was)) break;
          node(i)[k] = LeastChild(i, k);
        }
      }
    }
  }
  void Clear(int32_t pos) { Set(pos, Keys{}); }
  const Keys& at(int32_t pos) const { return node(first_leaf_ + static_cast<size_t>(pos)); }
  // The least key of order k (absent when the tree holds none).
  const TreeKey& Min(int k = 0) const { return node(0)[static_cast<size_t>(k)]; }
  // The least position at or after `from` whose key of order k is present with
  // a bound at most `limit`; -1 when none. O(log n): up from `from`'s leaf to
  // the first right sibling whose minimum qualifies, then down to its leftmost
  // qualifying leaf.
  int32_t FirstAtMost(Ticks limit, int32_t from, int k = 0) const {
    const auto kk = static_cast<size_t>(k);
    auto fits = [&](size_t i) {
      const TreeKey& key = node(i)[kk];
      return !key.absent() && key.bound <= limit;
    };
    if (from < 0 || kPad + first_leaf_ + static_cast<size_t>(from) >= nodes_.size()) return -1;
    size_t i = first_leaf_ + static_cast<size_t>(from);
    if (!fits(i)) {
      for (;;) {
        if (i == 0) return -1;
        const size_t last = kWays * Parent(i) + kWays;
        size_t c = i + 1;
        while (c <= last && !fits(c)) ++c;
        if (c <= last) {
          i = c;
          break;
        }
        i = Parent(i);
      }
      while (i < first_leaf_) {
        size_t c = kWays * i + 1;
        while (!fits(c)) ++c;  // one child holds the minimum
        i = c;
      }
    }
    return static_cast<int32_t>(i - first_leaf_);
  }
  // The least key of order k but `pos`'s: the path's siblings, read only.
  TreeKey MinExcept(int32_t pos, int k) const {
    TreeKey least;
    for (size_t i = first_leaf_ + static_cast<size_t>(pos); i > 0;) {
      const size_t parent = Parent(i);
      for (size_t c = kWays * parent + 1; c <= kWays * parent + kWays; ++c) {
        const TreeKey& sibling = node(c)[static_cast<size_t>(k)];
        if (c != i && sibling < least) least = sibling;
      }
      i = parent;
    }
    return least;
  }

 private:
  static constexpr size_t kWays = 4;
  // Node i's children are kWays * i + 1 ..; stored kPad further on, each group
  // of siblings starts at a multiple of kWays.
  static constexpr size_t kPad = kWays - 1;
  static size_t Parent(size_t i) { return (i - 1) / kWays; }
  Keys& node(size_t i) { return nodes_[kPad + i]; }
  const Keys& node(size_t i) const { return nodes_[kPad + i]; }
  TreeKey LeastChild(size_t i, size_t k) const {
    TreeKey least = node(kWays * i + 1)[k];
    for (size_t c = kWays * i + 2; c <= kWays * i + kWays; ++c) {
      if (node(c)[k] < least) least = node(c)[k];
    }
    return least;
  }

  size_t first_leaf_ = 0;
  std::vector<Keys> nodes_ = std::vector<Keys>(kPad + 1);
};

using MinTree = MultiMinTree<1>;

// K orders of the same positions where the last is sparse (most positions hold
// no key of it): the first K - 1 in one MultiMinTree, the last in a MinTree of
// its own that is allocated at its first key and not touched while it holds
// none, so that positions without a key of the last order cost what K - 1
// orders cost. The same operations as MultiMinTree<K>, Keys returned by value.
template <int K>
class SparseLastMinTree {
 public:
  using Keys = std::array<TreeKey, K>;

  void Reset(int32_t n) {
    dense_.Reset(n);
    n_ = n;
    sparse_ = MinTree();
    sparse_keys_ = 0;
    sparse_sized_ = false;
  }
  void Set(int32_t pos, const Keys& keys) {
    typename MultiMinTree<K - 1>::Keys dense;
    std::copy(keys.begin(), keys.end() - 1, dense.begin());
    dense_.Set(pos, dense);
    const TreeKey& last = keys[K - 1];
    if (sparse_keys_ == 0 && last.absent()) return;
    if (!sparse_sized_) {
      sparse_.Reset(n_);
      sparse_sized_ = true;
    }
    const bool had = !sparse_.at(pos)[0].absent();
    sparse_keys_ += (last.absent() ? 0 : 1) - (had ? 1 : 0);
    sparse_.Set(pos, {last});
  }
  void Clear(int32_t pos) { Set(pos, Keys{}); }
  Keys at(int32_t pos) const {
    Keys keys{};
    const auto& dense = dense_.at(pos);
    std::copy(dense.begin(), dense.end(), keys.begin());
    if (sparse_keys_ > 0) keys[K - 1] = sparse_.at(pos)[0];
    return keys;
  }
  TreeKey Min(int k) const {
    if (k < K - 1) return dense_.Min(k);
    return sparse_keys_ > 0 ? sparse_.Min() : TreeKey{};
  }
  TreeKey MinExcept(int32_t pos, int k) const {
    if (k < K - 1) return dense_.MinExcept(pos, k);
    return sparse_keys_ > 0 ? sparse_.MinExcept(pos, 0) : TreeKey{};
  }

 private:
  MultiMinTree<K - 1> dense_;
  MinTree sparse_;
  int32_t n_ = 0;
  int32_t sparse_keys_ = 0;  // present keys of the last order
  bool sparse_sized_ = false;
};

}  // namespace heteroaccel::scheduler::internal

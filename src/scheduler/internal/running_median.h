// RunningMedian: the median of a multiset of values under insertions and
// removals, each O(log n), the median O(1).
//
// The values are split in two halves (the lower one holding the extra value
// when the count is odd); the median is the middle value, or the mean of the
// two middle ones (rounded down) when the count is even. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>

#include "absl/container/btree_set.h"

namespace heteroaccel::scheduler::internal {

class RunningMedian {
 public:
  void Insert(int64_t v) {
    if (lower_.empty() || v <= *lower_.rbegin()) {
      lower_.insert(v);
    } else {
      upper_.insert(v);
    }
    Balance();
  }
  // Removes one copy of `v`; returns false if there is none.
  bool Erase(int64_t v) {
    if (!Remove(v)) return false;
    Balance();
    return true;
  }
  // Erase(from) then Insert(to), rebalancing once: when both lie in one half
  // (an estimate that moved a little) nothing crosses the middle. Returns false,
  // changing nothing, if there is no `from`.
  bool Replace(int64_t from, int64_t to) {
    if (!Remove(from)) return false;
    // With the lower half emptied, the upper one's least value is the boundary.
    if (lower_.empty() ? (upper_.empty() || to <= *upper_.begin()) : to <= *lower_.rbegin()) {
      lower_.insert(to);
    } else {
      upper_.insert(to);
    }
    Balance();
    return true;
  }
  size_t size() const { return lower_.size() + upper_.size(); }
  bool empty() const { return lower_.empty(); }
  // Requires !empty().
  int64_t median() const {
    const int64_t low = *lower_.rbegin();
    if (lower_.size() > upper_.size()) return low;
    return (low + *upper_.begin()) / 2;
  }

 private:
  bool Remove(int64_t v) {
    if (auto it = lower_.find(v); it != lower_.end()) {
      lower_.erase(it);
    } else if (auto up = upper_.find(v); up != upper_.end()) {
      upper_.erase(up);
    } else {
      return false;
    }
    return true;
  }
  // Restores lower_.size() == upper_.size() or upper_.size() + 1 from a
  // difference of at most two either way past it (one move shifts it by two).
  void Balance() {
    if (lower_.size() > upper_.size() + 1) {
      auto last = std::prev(lower_.end());
      upper_.insert(*last);
      lower_.erase(last);
    } else if (upper_.size() > lower_.size()) {
      lower_.insert(*upper_.begin());
      upper_.erase(upper_.begin());
    }
  }

  absl::btree_multiset<int64_t> lower_;
  absl::btree_multiset<int64_t> upper_;
};

}  // namespace heteroaccel::scheduler::internal

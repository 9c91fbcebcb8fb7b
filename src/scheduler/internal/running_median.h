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
    if (auto it = lower_.find(v); it != lower_.end()) {
      lower_.erase(it);
    } else if (auto up = upper_.find(v); up != upper_.end()) {
      upper_.erase(up);
    } else {
      return false;
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
  // Keeps lower_.size() == upper_.size() or upper_.size() + 1.
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

// SlotSchedule: when each slot of each device becomes free, for list scheduling.
//
// One min-heap of slot free times per device, all in one flat buffer reused across
// passes so a Dispatch allocates nothing once warm. earliest(d) is the top of d's
// heap, kept in its own dense array for the candidate scan. Not thread-safe.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

namespace heteroaccel::scheduler::internal {

using Ticks = int64_t;  // nanoseconds on the injected clock's time line
using DeviceIndex = int32_t;
inline constexpr Ticks kNever = std::numeric_limits<Ticks>::max();

class SlotSchedule {
 public:
  // Forgets everything; every device then has no slots (earliest() == kNever).
  void Reset(DeviceIndex devices) {
    begin_.assign(devices + 1, 0);
    earliest_.assign(devices, kNever);
    free_at_.clear();
    open_ = -1;
  }
  // Gives device d (higher than any added before) `slots` slots free at `now`.
  void AddDevice(DeviceIndex d, int slots, Ticks now) {
    const auto size = static_cast<int32_t>(free_at_.size());
    for (DeviceIndex i = open_ + 1; i <= d; ++i) begin_[i] = size;
    free_at_.insert(free_at_.end(), slots, now);
    begin_[d + 1] = static_cast<int32_t>(free_at_.size());
    open_ = d;
    earliest_[d] = now;
  }
  // Device d's earliest-free slot stays busy until `until` (>= its current time).
  void Occupy(DeviceIndex d, Ticks until) {
    Ticks* first = free_at_.data() + begin_[d];
    Ticks* last = free_at_.data() + begin_[d + 1];
    std::pop_heap(first, last, std::greater<>());
    last[-1] = until;
    std::push_heap(first, last, std::greater<>());
    earliest_[d] = *first;
  }
  // Sets a slot of device d that is free now to `until`, for work already running;
  // call before any Occupy on d, at most once per slot.
  void SetRunning(DeviceIndex d, int running_index, Ticks until) {
    free_at_[begin_[d] + running_index] = until;
  }
  // Restores the heap order after SetRunning calls.
  void Seal(DeviceIndex d) {
    Ticks* first = free_at_.data() + begin_[d];
    Ticks* last = free_at_.data() + begin_[d + 1];
    if (first == last) return;
    std::make_heap(first, last, std::greater<>());
    earliest_[d] = *first;
  }
  Ticks earliest(DeviceIndex d) const { return earliest_[d]; }
  const Ticks* earliest_data() const { return earliest_.data(); }

 private:
  std::vector<int32_t> begin_;  // heap of device d: free_at_[begin_[d], begin_[d + 1])
  std::vector<Ticks> earliest_;
  std::vector<Ticks> free_at_;
  DeviceIndex open_ = -1;  // last device added
};

}  // namespace heteroaccel::scheduler::internal

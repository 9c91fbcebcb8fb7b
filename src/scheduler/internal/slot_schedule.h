// SlotSchedule: when each slot of each device becomes free, for list scheduling.
//
// One min-heap of slot free times per device, built on first use in a pass (a pass
// touches the devices it weighs, not every device), its storage reused across
// passes so that a warm Dispatch allocates nothing. Not thread-safe.
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
  // Starts over with `devices` devices, none built (earliest() == kNever).
  void Begin(DeviceIndex devices) {
    ++generation_;
    if (built_.size() < static_cast<size_t>(devices)) {
      built_.resize(devices, 0);
      heaps_.resize(devices);
      earliest_.resize(devices, kNever);
    }
  }
  // Whether device d was built since Begin.
  bool Built(DeviceIndex d) const { return built_[d] == generation_; }
  // Starts building device d: the caller fills the returned storage with d's
  // slot free times as a min-heap (std::greater) and calls Seal.
  std::vector<Ticks>& Start(DeviceIndex d) {
    built_[d] = generation_;
    return heaps_[d];
  }
  void Seal(DeviceIndex d) { earliest_[d] = heaps_[d].empty() ? kNever : heaps_[d].front(); }
  // Device d's earliest-free slot stays busy until `until` (>= its current time).
  void Occupy(DeviceIndex d, Ticks until) {
    std::vector<Ticks>& heap = heaps_[d];
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    heap.back() = until;
    std::push_heap(heap.begin(), heap.end(), std::greater<>());
    earliest_[d] = heap.front();
  }
  Ticks earliest(DeviceIndex d) const { return Built(d) ? earliest_[d] : kNever; }

 private:
  uint64_t generation_ = 1;
  std::vector<uint64_t> built_;             // generation in which each device was built
  std::vector<std::vector<Ticks>> heaps_;   // slot free times, a min-heap per device
  std::vector<Ticks> earliest_;
};

}  // namespace heteroaccel::scheduler::internal

// FakeClock: a Clock that moves only when told, for tests, benchmarks and simulation.
//
// Starts one hour after the epoch, so that no meaningful time is the zero value.
// Thread-safe: Now(), Set() and Advance() may race (the time is atomic).
#pragma once

#include <atomic>
#include <chrono>

#include "common/clock.h"

namespace heteroaccel {

class FakeClock final : public Clock {
 public:
  FakeClock() : nanos_(std::chrono::nanoseconds(std::chrono::hours(1)).count()) {}

  TimePoint Now() const override {
    return TimePoint(std::chrono::duration_cast<TimePoint::duration>(
        std::chrono::nanoseconds(nanos_.load(std::memory_order_relaxed))));
  }
  void Set(TimePoint t) {
    nanos_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count(),
                 std::memory_order_relaxed);
  }
  void Advance(std::chrono::nanoseconds d) {
    nanos_.fetch_add(d.count(), std::memory_order_relaxed);
  }

 private:
  std::atomic<int64_t> nanos_;
};

}  // namespace heteroaccel

// Clock: the one seam through which components read time.
//
// Production code uses SystemClock(); tests and the simulator inject a FakeClock
// (common/fake_clock.h) so nothing depends on wall time. Implementations are
// thread-safe: Now() may be called from any thread.
#pragma once

#include <chrono>

namespace heteroaccel {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

// A process-wide steady clock. Never null; not owned by the caller.
Clock& SystemClock();

inline double SecondsBetween(Clock::TimePoint a, Clock::TimePoint b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace heteroaccel

// StreamSchedule: when an open-loop stream's requests are due, as offsets from
// the run's start. Periodic: the stream's phase (index / streams of a period,
// so the streams are staggered), then one every period. Poisson: independent
// exponential gaps at the stream's rate from a generator seeded by (seed,
// index), so a run with the same seed repeats its arrivals, and the streams
// together are a Poisson process at the total rate (a sum of independent ones).
// Bursts: the same exponential gaps at the rate the windows need to keep the
// average (rate x (on + off) / on), counted in sending time only, so nothing
// is due during an off window (BurstWindows, the same for every stream).
// The simulator plays its cameras with this same schedule (sim/internal/
// arrivals.h), so a simulation and a bench run with the same seed send at the
// same instants. Not thread-safe: one per stream.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

#include "loadgen/arrivals.h"

namespace heteroaccel::loadgen {

class StreamSchedule {
 public:
  // `rate`: this stream's average requests/s (> 0); `index` of `streams`
  // streams; `bursts` only for Arrivals::kBursts (on_ms > 0, off_ms >= 0).
  StreamSchedule(Arrivals kind, double rate, uint64_t index, uint64_t streams, uint64_t seed,
                 BurstWindows bursts = {});
  // The offset of request k from the start, for k = 0, 1, 2, ... in turn.
  std::chrono::nanoseconds Next();

 private:
  const Arrivals kind_;
  const double rate_;
  const uint64_t index_, streams_;
  const BurstWindows bursts_;
  uint64_t k_ = 0;
  double seconds_ = 0;          // Poisson and bursts: the last due time
  double sending_seconds_ = 0;  // bursts: the on windows' time used up to it
  std::mt19937_64 random_;
  std::exponential_distribution<double> gap_;
};

}  // namespace heteroaccel::loadgen

#include "loadgen/schedule.h"

#include <algorithm>
#include <cmath>

namespace heteroaccel::loadgen {
namespace {

// splitmix64's finaliser: nearby (seed, index) pairs give unrelated seeds.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

StreamSchedule::StreamSchedule(Arrivals kind, double rate, uint64_t index, uint64_t streams,
                               uint64_t seed, BurstWindows bursts)
    : kind_(kind),
      rate_(rate),
      index_(index),
      streams_(streams == 0 ? 1 : streams),
      bursts_(bursts),
      random_(Mix(seed ^ Mix(index))),
      gap_(kind == Arrivals::kBursts ? rate * (bursts.on_ms + bursts.off_ms) / bursts.on_ms
                                     : rate) {}

std::chrono::nanoseconds StreamSchedule::Next() {
  const uint64_t k = k_++;
  switch (kind_) {
    case Arrivals::kPoisson:
      seconds_ += gap_(random_);
      break;
    case Arrivals::kBursts: {
      // The gaps are sending time: the n-th on window holds sending time
      // [n x on, (n + 1) x on) and starts at n x (on + off).
      const double on = bursts_.on_ms * 1e-3;
      const double period = (bursts_.on_ms + bursts_.off_ms) * 1e-3;
      sending_seconds_ += gap_(random_);
      const double window = std::floor(sending_seconds_ / on);
      seconds_ = window * period + std::clamp(sending_seconds_ - window * on, 0.0, on);
      break;
    }
    case Arrivals::kPeriodic: {
      // first = period x index / streams, due = first + period x k, each product
      // truncated to nanoseconds.
      const std::chrono::duration<double> period(1.0 / rate_);
      return std::chrono::duration_cast<std::chrono::nanoseconds>(
                 period * static_cast<double>(index_) / static_cast<double>(streams_)) +
             std::chrono::duration_cast<std::chrono::nanoseconds>(period * static_cast<double>(k));
    }
  }
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(seconds_));
}

}  // namespace heteroaccel::loadgen

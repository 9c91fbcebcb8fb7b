#include "loadgen/schedule.h"

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
                               uint64_t seed)
    : kind_(kind),
      rate_(rate),
      index_(index),
      streams_(streams == 0 ? 1 : streams),
      random_(Mix(seed ^ Mix(index))),
      gap_(rate) {}

std::chrono::nanoseconds StreamSchedule::Next() {
  const uint64_t k = k_++;
  if (kind_ == Arrivals::kPoisson) {
    poisson_seconds_ += gap_(random_);
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(poisson_seconds_));
  }
  // As before: first = period x index / streams, due = first + period x k, each
  // product truncated to nanoseconds (the simulator computes it the same way).
  const std::chrono::duration<double> period(1.0 / rate_);
  return std::chrono::duration_cast<std::chrono::nanoseconds>(period * static_cast<double>(index_) /
                                                              static_cast<double>(streams_)) +
         std::chrono::duration_cast<std::chrono::nanoseconds>(period * static_cast<double>(k));
}

}  // namespace heteroaccel::loadgen

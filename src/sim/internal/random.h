// Counter-based randomness for the simulator: every draw is a pure function of
// its key (seed, stream, request number, purpose), so the values a request
// gets never depend on the order events ran in. Pure functions.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>

namespace heteroaccel::sim::internal {

inline uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// What a draw is for, so draws of one request are independent. The values are
// part of the keys (a new value changes that purpose's draws); arrival gaps
// are loadgen::StreamSchedule's, not keyed here.
enum class Purpose : uint64_t { kType = 2, kService = 3 };

inline uint64_t Key(uint64_t seed, uint64_t stream, uint64_t k, Purpose purpose,
                    uint64_t attempt = 0) {
  uint64_t h = SplitMix64(seed ^ 0x5eed5eed5eedULL);
  h = SplitMix64(h ^ stream);
  h = SplitMix64(h ^ k);
  h = SplitMix64(h ^ static_cast<uint64_t>(purpose));
  return SplitMix64(h ^ attempt);
}

// Uniform in (0, 1).
inline double Unit(uint64_t key) {
  return (static_cast<double>(SplitMix64(key) >> 11) + 0.5) * 0x1.0p-53;
}

// Standard normal (Box-Muller).
inline double Normal(uint64_t key) {
  return std::sqrt(-2 * std::log(Unit(key))) * std::cos(2 * std::numbers::pi * Unit(~key));
}

// A lognormal multiplier with mean 1 and shape `sigma` (1 when sigma is 0).
inline double LognormalFactor(uint64_t key, double sigma) {
  if (sigma <= 0) return 1;
  return std::exp(sigma * Normal(key) - sigma * sigma / 2);
}

}  // namespace heteroaccel::sim::internal

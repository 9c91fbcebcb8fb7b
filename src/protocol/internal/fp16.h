// IEEE 754 binary16 conversions for FP16 tensors written as JSON numbers.
//
// The protocol carries FP16 elements as raw 16-bit patterns; JSON has only
// decimal numbers, so the codec converts at the boundary. Pure functions,
// thread-safe.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace heteroaccel::protocol::internal {

// Exact: every binary16 value is representable as a float.
inline float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0) {
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign != 0 ? -magnitude : magnitude;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

// Round to nearest, ties to even. Values at or above 65520 in magnitude become
// infinity; NaN stays a (quiet) NaN.
inline uint16_t FloatToHalf(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  const auto sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x > 0x7f800000u) return sign | 0x7e00u;   // NaN
  if (x >= 0x47800000u) return sign | 0x7c00u;  // >= 65536 (or inf): infinity
  if (x < 0x38800000u) {
    // The result is subnormal or zero. Adding 0.5 makes the FPU shift the
    // mantissa so its low bits are the half's mantissa, rounded to even.
    const float shifted = std::bit_cast<float>(x) + 0.5f;
    return sign | static_cast<uint16_t>(std::bit_cast<uint32_t>(shifted) - 0x3f000000u);
  }
  const uint32_t odd = (x >> 13) & 1u;
  // Rebias the exponent (127 -> 15) and round to nearest even on the 13
  // dropped bits; a carry out of the mantissa correctly bumps the exponent.
  x = x - (112u << 23) + 0xfffu + odd;
  return sign | static_cast<uint16_t>(x >> 13);
}

// Correctly rounded double -> binary16. Rounding to float first could round
// twice; rounding to odd in the float step keeps the final rounding exact.
inline uint16_t DoubleToHalf(double d) {
  if (std::isnan(d)) return std::signbit(d) ? 0xfe00u : 0x7e00u;
  if (std::fabs(d) >= 65536.0) return std::signbit(d) ? 0xfc00u : 0x7c00u;
  float f = static_cast<float>(d);
  if (static_cast<double>(f) != d) {
    uint32_t bits = std::bit_cast<uint32_t>(f);
    if (std::fabs(static_cast<double>(f)) > std::fabs(d)) --bits;  // toward zero
    f = std::bit_cast<float>(bits | 1u);
  }
  return FloatToHalf(f);
}

inline bool HalfIsFinite(uint16_t h) { return (h & 0x7c00u) != 0x7c00u; }

}  // namespace heteroaccel::protocol::internal

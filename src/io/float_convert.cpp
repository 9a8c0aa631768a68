#include "io/float_convert.h"

#include <bit>
#include <cmath>
#include <cstring>

#include "simtune/core/check.h"

namespace simtune {
namespace {

float f16_to_f32(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu;
  const std::uint32_t mant = h & 0x3ffu;
  std::uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);  // inf, or nan keeping its payload
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);  // rebias 15 -> 127
  } else if (mant == 0) {
    bits = sign;
  } else {
    // Subnormal half: mant * 2^-24 is exact in float32.
    const float v = std::ldexp(static_cast<float>(mant), -24);
    bits = sign | std::bit_cast<std::uint32_t>(v);
  }
  return std::bit_cast<float>(bits);
}

template <typename T>
T load_unaligned(const std::uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace

bool is_floating(DType dtype) {
  return dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16 || dtype == DType::F64;
}

void convert_to_f32(DType dtype, const std::uint8_t* p, std::size_t n, float* out) {
  switch (dtype) {
    case DType::F32:
      if (n > 0) std::memcpy(out, p, n * sizeof(float));
      return;
    case DType::F64:
      for (std::size_t i = 0; i < n; ++i) {
        out[i] = static_cast<float>(load_unaligned<double>(p + 8 * i));
      }
      return;
    case DType::F16:
      for (std::size_t i = 0; i < n; ++i)
        out[i] = f16_to_f32(load_unaligned<std::uint16_t>(p + 2 * i));
      return;
    case DType::BF16:
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t bits =
            static_cast<std::uint32_t>(load_unaligned<std::uint16_t>(p + 2 * i)) << 16;
        out[i] = std::bit_cast<float>(bits);
      }
      return;
    default:
      SIMTUNE_CHECK(false);
  }
}

}  // namespace simtune

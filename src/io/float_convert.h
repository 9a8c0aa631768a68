// Floating tensor bytes (little-endian, as both safetensors and PyTorch's zip archives store
// them) to float32, shared by every weight format so each gives the same float bits.
#pragma once

#include <cstddef>
#include <cstdint>

#include "simtune/io/safetensors.h"

namespace simtune {

bool is_floating(DType dtype);

// Converts n elements of `dtype` at `bytes` into out[n]: F32 copied, F16/BF16 widened exactly,
// F64 rounded to nearest. `dtype` must be floating (is_floating).
void convert_to_f32(DType dtype, const std::uint8_t* bytes, std::size_t n, float* out);

}  // namespace simtune

// The one thread pool: OpenMP's, which OpenBLAS's OpenMP build shares.
#pragma once

#include <cstddef>

namespace simtune {

// Sets the pool to n threads; n <= 0 keeps the default (all cores).
void set_num_threads(int n);

// x[0..n) = 0 by the whole pool: gradient buffers are megabytes, and one thread filling them left
// the others waiting.
void zero_parallel(float* x, std::size_t n) noexcept;

}  // namespace simtune

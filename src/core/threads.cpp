#include <omp.h>

#include <cstdint>

#include "simtune/core/threads.h"

namespace simtune {

void set_num_threads(int n) {
  // OpenBLAS's OpenMP build sizes its work by omp_get_max_threads(), so one call sets both.
  if (n > 0) omp_set_num_threads(n);
}

void zero_parallel(float* x, std::size_t n) noexcept {
  const auto count = static_cast<std::int64_t>(n);
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < count; i++) x[i] = 0.0f;
}

}  // namespace simtune

// The only door to BLAS. Called from outside OpenMP parallel regions, so OpenBLAS's OpenMP build
// spreads each product over the same thread pool our kernels use and nothing nests.
#pragma once

namespace simtune {

// out[N,OC] = inp[N,C] . w[OC,C]^T (+ out when accumulate): a Linear layer without bias.
void matmul_nt(float* out, const float* inp, const float* w, int N, int C, int OC,
               bool accumulate = false) noexcept;

}  // namespace simtune

// The only door to BLAS. Called from outside OpenMP parallel regions, so OpenBLAS's OpenMP build
// spreads each product over the same thread pool our kernels use and nothing nests.
#pragma once

namespace simtune {

// out[N,OC] = inp[N,C] . w[OC,C]^T (+ out when accumulate): a Linear layer without bias.
void matmul_nt(float* out, const float* inp, const float* w, int N, int C, int OC,
               bool accumulate = false) noexcept;
// out[N,C] (+)= a[N,K] . b[K,C]: the input gradient of a Linear layer (a = dout, b = weight).
void matmul_nn(float* out, const float* a, const float* b, int N, int K, int C,
               bool accumulate) noexcept;
// out[K,C] (+)= a[N,K]^T . b[N,C]: the weight gradient of a Linear layer (a = dout, b = input).
void matmul_tn(float* out, const float* a, const float* b, int N, int K, int C,
               bool accumulate) noexcept;

}  // namespace simtune

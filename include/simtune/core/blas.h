// The only door to BLAS: reference products for bench and tests. OpenBLAS is linked (PyTorch's
// CPU products on Debian); oneDNN's sgemm (MKL's and PyTorch 2.x's CPU kernels' sibling, which
// picks its code by CPU features at run time) is loaded at run time where libdnnl.so.2 is
// installed, so simtune does not depend on it. Called from outside OpenMP parallel regions:
// both libraries' OpenMP builds spread each product over the same thread pool our kernels use.
#pragma once

namespace simtune {

enum class Blas { openblas, onednn };
const char* blas_name(Blas blas) noexcept;
// False for oneDNN where libdnnl.so.2 cannot be loaded.
bool blas_available(Blas blas) noexcept;

// out[N,OC] = inp[N,C] . w[OC,C]^T (+ out when accumulate): a Linear layer without bias.
void matmul_nt(float* out, const float* inp, const float* w, int N, int C, int OC,
               bool accumulate = false, Blas blas = Blas::openblas) noexcept;
// out[N,C] (+)= a[N,K] . b[K,C]: the input gradient of a Linear layer (a = dout, b = weight).
void matmul_nn(float* out, const float* a, const float* b, int N, int K, int C, bool accumulate,
               Blas blas = Blas::openblas) noexcept;
// out[K,C] (+)= a[N,K]^T . b[N,C]: the weight gradient of a Linear layer (a = dout, b = input).
void matmul_tn(float* out, const float* a, const float* b, int N, int K, int C, bool accumulate,
               Blas blas = Blas::openblas) noexcept;

}  // namespace simtune

#include "simtune/core/blas.h"

#include <cblas.h>

namespace simtune {

void matmul_nt(float* out, const float* inp, const float* w, int N, int C, int OC,
               bool accumulate) noexcept {
  if (N == 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, w, C,
              accumulate ? 1.0f : 0.0f, out, OC);
}

void matmul_nn(float* out, const float* a, const float* b, int N, int K, int C,
               bool accumulate) noexcept {
  if (N == 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, K, 1.0f, a, K, b, C,
              accumulate ? 1.0f : 0.0f, out, C);
}

void matmul_tn(float* out, const float* a, const float* b, int N, int K, int C,
               bool accumulate) noexcept {
  if (N == 0) return;
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, C, N, 1.0f, a, K, b, C,
              accumulate ? 1.0f : 0.0f, out, C);
}

}  // namespace simtune

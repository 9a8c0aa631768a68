#include "core/blas.h"

#include <cblas.h>

namespace simtune {

void matmul_nt(float* out, const float* inp, const float* w, int N, int C, int OC,
               bool accumulate) noexcept {
  if (N == 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, w, C,
              accumulate ? 1.0f : 0.0f, out, OC);
}

}  // namespace simtune

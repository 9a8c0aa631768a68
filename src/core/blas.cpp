#include "simtune/core/blas.h"

#include <cblas.h>
#include <dlfcn.h>

#include <cstdint>

namespace simtune {
namespace {

// dnnl_sgemm from oneDNN's C API (dnnl.h): row-major, 'N'/'T' per operand; returns dnnl_status_t.
using DnnlSgemm = int (*)(char transa, char transb, std::int64_t M, std::int64_t N, std::int64_t K,
                          float alpha, const float* A, std::int64_t lda, const float* B,
                          std::int64_t ldb, float beta, float* C, std::int64_t ldc);

DnnlSgemm dnnl_sgemm() noexcept {
  static const DnnlSgemm sgemm = []() -> DnnlSgemm {
    void* lib = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
    return lib != nullptr ? reinterpret_cast<DnnlSgemm>(dlsym(lib, "dnnl_sgemm")) : nullptr;
  }();
  return sgemm;
}

// c[M,N] = op(a) . op(b) (+ c), row-major, through the chosen library.
void sgemm(Blas blas, bool trans_a, bool trans_b, int M, int N, int K, const float* a, int lda,
           const float* b, int ldb, bool accumulate, float* c, int ldc) noexcept {
  if (M == 0 || N == 0) return;
  const float beta = accumulate ? 1.0f : 0.0f;
  if (blas == Blas::onednn && dnnl_sgemm() != nullptr) {
    dnnl_sgemm()(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, 1.0f, a, lda, b, ldb, beta, c,
                 ldc);
    return;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace

const char* blas_name(Blas blas) noexcept {
  return blas == Blas::onednn ? "onednn" : "openblas";
}

bool blas_available(Blas blas) noexcept {
  return blas == Blas::openblas || dnnl_sgemm() != nullptr;
}

void matmul_nt(float* out, const float* inp, const float* w, int N, int C, int OC, bool accumulate,
               Blas blas) noexcept {
  sgemm(blas, false, true, N, OC, C, inp, C, w, C, accumulate, out, OC);
}

void matmul_nn(float* out, const float* a, const float* b, int N, int K, int C, bool accumulate,
               Blas blas) noexcept {
  sgemm(blas, false, false, N, C, K, a, K, b, C, accumulate, out, C);
}

void matmul_tn(float* out, const float* a, const float* b, int N, int K, int C, bool accumulate,
               Blas blas) noexcept {
  sgemm(blas, true, false, K, C, N, a, K, b, C, accumulate, out, C);
}

}  // namespace simtune

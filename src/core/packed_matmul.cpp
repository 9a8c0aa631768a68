#include "core/packed_matmul.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

namespace simtune {
namespace {

constexpr int W = PackedMatrix::kWidth;
constexpr int kRows = 6;        // rows per micro-tile: 6 x 16 outputs = 12 accumulators
constexpr int kDepth = 256;     // k per block: a 16 x 256 weight panel slice (16 KiB) stays in L1
constexpr int kRowBlock = 96;  // rows per block: 96 x 256 input floats (96 KiB) stay in L2

// out[r][0..cols) for r < R (+)= x[r][k0..k0+kc) . panel[k0..k0+kc)[0..16).
template <int R>
void micro_tile(float* out, int ldo, const float* x, int ldx, const float* panel, int kc,
                bool first, int cols) {
#if defined(__AVX2__) && defined(__FMA__)
  __m256 acc[R][2];
#pragma GCC unroll 8
  for (int r = 0; r < R; r++) {
    if (first || cols < W) {
      acc[r][0] = _mm256_setzero_ps();
      acc[r][1] = _mm256_setzero_ps();
      if (!first) {
        alignas(32) float row[W] = {};
        std::memcpy(row, out + static_cast<std::ptrdiff_t>(r) * ldo, sizeof(float) * cols);
        acc[r][0] = _mm256_load_ps(row);
        acc[r][1] = _mm256_load_ps(row + 8);
      }
    } else {
      acc[r][0] = _mm256_loadu_ps(out + static_cast<std::ptrdiff_t>(r) * ldo);
      acc[r][1] = _mm256_loadu_ps(out + static_cast<std::ptrdiff_t>(r) * ldo + 8);
    }
  }
  for (int k = 0; k < kc; k++) {
    const __m256 b0 = _mm256_load_ps(panel + k * W);
    const __m256 b1 = _mm256_load_ps(panel + k * W + 8);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      const __m256 a = _mm256_broadcast_ss(x + static_cast<std::ptrdiff_t>(r) * ldx + k);
      acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; r++) {
    float* o = out + static_cast<std::ptrdiff_t>(r) * ldo;
    if (cols == W) {
      _mm256_storeu_ps(o, acc[r][0]);
      _mm256_storeu_ps(o + 8, acc[r][1]);
    } else {
      alignas(32) float row[W];
      _mm256_store_ps(row, acc[r][0]);
      _mm256_store_ps(row + 8, acc[r][1]);
      std::memcpy(o, row, sizeof(float) * cols);
    }
  }
#else
  // Portable path with the same per-element chain of fused multiply-adds.
  for (int r = 0; r < R; r++) {
    float* o = out + static_cast<std::ptrdiff_t>(r) * ldo;
    const float* xr = x + static_cast<std::ptrdiff_t>(r) * ldx;
    for (int c = 0; c < cols; c++) {
      float acc = first ? 0.0f : o[c];
      for (int k = 0; k < kc; k++) acc = std::fma(xr[k], panel[k * W + c], acc);
      o[c] = acc;
    }
  }
#endif
}

void row_tiles(float* out, int ldo, const float* x, int ldx, const float* panel, int kc, bool first,
               int cols, int N) {
  int n = 0;
  for (; n + kRows <= N; n += kRows) {
    micro_tile<kRows>(out + static_cast<std::ptrdiff_t>(n) * ldo, ldo,
                      x + static_cast<std::ptrdiff_t>(n) * ldx, ldx, panel, kc, first, cols);
  }
  float* o = out + static_cast<std::ptrdiff_t>(n) * ldo;
  const float* xn = x + static_cast<std::ptrdiff_t>(n) * ldx;
  switch (N - n) {
    case 5:
      micro_tile<5>(o, ldo, xn, ldx, panel, kc, first, cols);
      break;
    case 4:
      micro_tile<4>(o, ldo, xn, ldx, panel, kc, first, cols);
      break;
    case 3:
      micro_tile<3>(o, ldo, xn, ldx, panel, kc, first, cols);
      break;
    case 2:
      micro_tile<2>(o, ldo, xn, ldx, panel, kc, first, cols);
      break;
    case 1:
      micro_tile<1>(o, ldo, xn, ldx, panel, kc, first, cols);
      break;
    default:
      break;
  }
}

}  // namespace

void PackedMatrix::Free::operator()(float* p) const noexcept {
  std::free(p);
}

PackedMatrix::PackedMatrix(const float* w, int OC, int C) : OC_(OC), C_(C) {
  const int blocks = (OC + W - 1) / W;
  const std::size_t n = static_cast<std::size_t>(blocks) * C * W;
  data_.reset(static_cast<float*>(std::aligned_alloc(64, ((n * sizeof(float) + 63) / 64) * 64)));
  float* d = data_.get();
  for (int j = 0; j < blocks; j++) {
    for (int k = 0; k < C; k++) {
      for (int t = 0; t < W; t++) {
        const int oc = j * W + t;
        *d++ = oc < OC ? w[static_cast<std::size_t>(oc) * C + k] : 0.0f;
      }
    }
  }
}

void matmul_packed(float* out, const float* inp, const PackedMatrix& w, int N) noexcept {
  const int OC = w.out_features(), C = w.in_features();
  const int blocks = (OC + W - 1) / W;
  // Rows go in blocks whose k-slices (kRowBlock x kDepth floats) stay in L2 while every panel
  // passes over them. Threads split output panels; within one, k-blocks run in order, so every
  // element's chain is the same whatever the split.
#pragma omp parallel
  for (int n0 = 0; n0 < N; n0 += kRowBlock) {
    const int rows = std::min(kRowBlock, N - n0);
#pragma omp for schedule(static)
    for (int j = 0; j < blocks; j++) {
      const int cols = std::min(W, OC - j * W);
      for (int k0 = 0; k0 < C; k0 += kDepth) {
        const int kc = std::min(kDepth, C - k0);
        row_tiles(out + static_cast<std::ptrdiff_t>(n0) * OC + j * W, OC,
                  inp + static_cast<std::ptrdiff_t>(n0) * C + k0, C,
                  w.panel(j) + static_cast<std::ptrdiff_t>(k0) * W, kc, k0 == 0, cols, rows);
      }
    }
  }
}

}  // namespace simtune

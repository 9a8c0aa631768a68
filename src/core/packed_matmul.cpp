#include "simtune/core/packed_matmul.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace simtune {
namespace {

constexpr int W = PackedMatrix::kWidth;
constexpr int kDepth = 256;    // k per block: a W x 256 weight panel slice stays in L1
constexpr int kRowBlock = 96;  // rows per block: 96 x 256 input floats (96 KiB) stay in L2

// The micro-kernel is written once over a vector type: AVX-512 where the compiler targets it
// (Zen 5 and recent Intel run two 512-bit FMAs a cycle, twice AVX2's floats), else AVX2.
#if defined(__AVX512F__)
#define SIMTUNE_VECTOR_KERNEL 1
using Vec = __m512;
constexpr int kRows = 8;  // 8 rows x 2 registers = 16 accumulators of the 32 registers
inline Vec vzero() {
  return _mm512_setzero_ps();
}
inline Vec vload(const float* p) {
  return _mm512_loadu_ps(p);
}
inline void vstore(float* p, Vec v) {
  _mm512_storeu_ps(p, v);
}
inline Vec vbroadcast(const float* p) {
  return _mm512_set1_ps(*p);
}
inline Vec vfma(Vec a, Vec b, Vec c) {
  return _mm512_fmadd_ps(a, b, c);
}
#elif defined(__AVX2__) && defined(__FMA__)
#define SIMTUNE_VECTOR_KERNEL 1
using Vec = __m256;
constexpr int kRows = 6;  // 6 rows x 2 registers = 12 accumulators of the 16 registers
inline Vec vzero() {
  return _mm256_setzero_ps();
}
inline Vec vload(const float* p) {
  return _mm256_loadu_ps(p);
}
inline void vstore(float* p, Vec v) {
  _mm256_storeu_ps(p, v);
}
inline Vec vbroadcast(const float* p) {
  return _mm256_broadcast_ss(p);
}
inline Vec vfma(Vec a, Vec b, Vec c) {
  return _mm256_fmadd_ps(a, b, c);
}
#else
constexpr int kRows = 6;
#endif

// out[r][0..cols) for r < R (+)= x[r][k0..k0+kc) . panel[k0..k0+kc)[0..W).
template <int R>
void micro_tile(float* out, int ldo, const float* x, int ldx, const float* panel, int kc,
                bool first, int cols) {
#if defined(SIMTUNE_VECTOR_KERNEL)
  constexpr int H = W / 2;  // floats per register
  Vec acc[R][2];
#pragma GCC unroll 8
  for (int r = 0; r < R; r++) {
    alignas(64) float row[W] = {};
    const float* src = out + static_cast<std::ptrdiff_t>(r) * ldo;
    if (!first && cols < W) {
      std::memcpy(row, src, sizeof(float) * cols);
      src = row;
    }
    acc[r][0] = first ? vzero() : vload(src);
    acc[r][1] = first ? vzero() : vload(src + H);
  }
  for (int k = 0; k < kc; k++) {
    const Vec b0 = vload(panel + k * W);
    const Vec b1 = vload(panel + k * W + H);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      const Vec a = vbroadcast(x + static_cast<std::ptrdiff_t>(r) * ldx + k);
      acc[r][0] = vfma(a, b0, acc[r][0]);
      acc[r][1] = vfma(a, b1, acc[r][1]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; r++) {
    float* o = out + static_cast<std::ptrdiff_t>(r) * ldo;
    if (cols == W) {
      vstore(o, acc[r][0]);
      vstore(o + H, acc[r][1]);
    } else {
      alignas(64) float row[W];
      vstore(row, acc[r][0]);
      vstore(row + H, acc[r][1]);
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

// The last rows, fewer than kRows: a tile of exactly that many rows.
template <int R>
void tail_tile(int rows, float* out, int ldo, const float* x, int ldx, const float* panel, int kc,
               bool first, int cols) {
  if constexpr (R > 0) {
    if (rows == R) return micro_tile<R>(out, ldo, x, ldx, panel, kc, first, cols);
    tail_tile<R - 1>(rows, out, ldo, x, ldx, panel, kc, first, cols);
  }
}

void row_tiles(float* out, int ldo, const float* x, int ldx, const float* panel, int kc, bool first,
               int cols, int N) {
  int n = 0;
  for (; n + kRows <= N; n += kRows) {
    micro_tile<kRows>(out + static_cast<std::ptrdiff_t>(n) * ldo, ldo,
                      x + static_cast<std::ptrdiff_t>(n) * ldx, ldx, panel, kc, first, cols);
  }
  tail_tile<kRows - 1>(N - n, out + static_cast<std::ptrdiff_t>(n) * ldo, ldo,
                       x + static_cast<std::ptrdiff_t>(n) * ldx, ldx, panel, kc, first, cols);
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

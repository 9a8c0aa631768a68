// The matrix-product kernel, compiled once per instruction set: CMake builds this file three
// times, with -mavx512* (SIMTUNE_ISA_NS = isa_avx512), -mavx2 -mfma (isa_avx2) and no flags
// (isa_generic). Everything here stays inside that namespace, so no copy's code can be linked in
// place of another's.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "core/gemm.h"

#if defined(__AVX512F__) || defined(__AVX2__) || defined(__SSE2__)
#include <immintrin.h>
#endif

namespace simtune::SIMTUNE_ISA_NS {
namespace {

constexpr int kDepth = 256;    // k per block: a kernel-width x 256 slice of b stays in L1
constexpr int kRowBlock = 96;  // rows per block at most: 96 x 256 floats of a (96 KiB) stay in L2
// Column tiles run together over each row block of a: their slices of b (8 x 32 KiB, on each
// thread's stack) and the row block stay in L2.
constexpr int kGroup = 8;

// A micro-tile is kRows rows x kWidth columns of c held in registers: two vector registers a row.
#if defined(__AVX512F__)
#define SIMTUNE_VECTOR 1
using Vec = __m512;
constexpr int kLanes = 16;
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
#define SIMTUNE_VECTOR 1
using Vec = __m256;
constexpr int kLanes = 8;
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
#elif defined(__SSE2__)
// Baseline x86-64: SSE2's 16 registers of 4 floats, and no fused multiply-add (a multiply, then
// an add: the chains round twice per step, which is why paths agree to 1e-5, not bit for bit).
#define SIMTUNE_VECTOR 1
using Vec = __m128;
constexpr int kLanes = 4;
constexpr int kRows = 6;  // 6 rows x 2 registers = 12 accumulators of the 16 registers
inline Vec vzero() {
  return _mm_setzero_ps();
}
inline Vec vload(const float* p) {
  return _mm_loadu_ps(p);
}
inline void vstore(float* p, Vec v) {
  _mm_storeu_ps(p, v);
}
inline Vec vbroadcast(const float* p) {
  return _mm_set1_ps(*p);
}
inline Vec vfma(Vec a, Vec b, Vec c) {
  return _mm_add_ps(_mm_mul_ps(a, b), c);
}
#else
constexpr int kLanes = 8;  // plain loops for other architectures
constexpr int kRows = 4;
#endif
constexpr int kWidth = 2 * kLanes;
static_assert(kPanel % kWidth == 0, "a micro-tile must not straddle two panels");

// dst[j * dst_stride + i] = src[i * src_stride + j] for i, j < kLanes, in registers: the
// forward's in-place weight is transposed into slices a square at a time (one element at a
// time, the copy was a load and a store an element).
#if defined(__AVX512F__)
inline void transpose_square(const float* src, std::ptrdiff_t src_stride, float* dst,
                             std::ptrdiff_t dst_stride) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + i * src_stride);
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // r[4i + j], 128-bit lane L: element (rows 4i..4i+3, column 4L + j).
  for (int i = 0; i < 4; i++) {
    const __m512d t0 = _mm512_castps_pd(t[4 * i]), t1 = _mm512_castps_pd(t[4 * i + 1]);
    const __m512d t2 = _mm512_castps_pd(t[4 * i + 2]), t3 = _mm512_castps_pd(t[4 * i + 3]);
    r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
  }
  // Column 4L + j of the square: lane L of r[j], r[4 + j], r[8 + j], r[12 + j].
  for (int j = 0; j < 4; j++) {
    const __m512 lo01 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x44);
    const __m512 lo23 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x44);
    const __m512 hi01 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xEE);
    const __m512 hi23 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xEE);
    _mm512_storeu_ps(dst + j * dst_stride, _mm512_shuffle_f32x4(lo01, lo23, 0x88));
    _mm512_storeu_ps(dst + (4 + j) * dst_stride, _mm512_shuffle_f32x4(lo01, lo23, 0xDD));
    _mm512_storeu_ps(dst + (8 + j) * dst_stride, _mm512_shuffle_f32x4(hi01, hi23, 0x88));
    _mm512_storeu_ps(dst + (12 + j) * dst_stride, _mm512_shuffle_f32x4(hi01, hi23, 0xDD));
  }
}
#elif defined(__AVX2__) && defined(__FMA__)
inline void transpose_square(const float* src, std::ptrdiff_t src_stride, float* dst,
                             std::ptrdiff_t dst_stride) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(src + i * src_stride);
  for (int i = 0; i < 4; i++) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // r[4i + j], 128-bit lane L: element (rows 4i..4i+3, column 4L + j).
  for (int i = 0; i < 2; i++) {
    r[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    r[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    r[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    r[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int j = 0; j < 4; j++) {
    _mm256_storeu_ps(dst + j * dst_stride, _mm256_permute2f128_ps(r[j], r[4 + j], 0x20));
    _mm256_storeu_ps(dst + (4 + j) * dst_stride, _mm256_permute2f128_ps(r[j], r[4 + j], 0x31));
  }
}
#elif defined(__SSE2__)
inline void transpose_square(const float* src, std::ptrdiff_t src_stride, float* dst,
                             std::ptrdiff_t dst_stride) {
  __m128 r0 = _mm_loadu_ps(src), r1 = _mm_loadu_ps(src + src_stride);
  __m128 r2 = _mm_loadu_ps(src + 2 * src_stride), r3 = _mm_loadu_ps(src + 3 * src_stride);
  _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
  _mm_storeu_ps(dst, r0);
  _mm_storeu_ps(dst + dst_stride, r1);
  _mm_storeu_ps(dst + 2 * dst_stride, r2);
  _mm_storeu_ps(dst + 3 * dst_stride, r3);
}
#else
inline void transpose_square(const float* src, std::ptrdiff_t src_stride, float* dst,
                             std::ptrdiff_t dst_stride) {
  for (int i = 0; i < kLanes; i++) {
    for (int j = 0; j < kLanes; j++) dst[j * dst_stride + i] = src[i * src_stride + j];
  }
}
#endif

// What one micro-tile reads: rows of a from `a`, b's rows for its columns from `b`.
struct Tile {
  float* c;
  std::ptrdiff_t ldc;
  const float* a;
  std::ptrdiff_t a_rs, a_ks;
  const float* b;
  std::ptrdiff_t b_ks;
  int kc;       // k in this block
  int cols;     // columns of c in the tile, <= kWidth
  bool load_c;  // start from c's values (a later k-block, or accumulating), else from zero
};

// kRowMajorA: a's k stride is 1 (forward, input gradient), else its row stride is 1 (weight
// gradient, a = dout transposed): a compile-time stride keeps the broadcasts' addresses cheap.
// b's rows are read whole (kWidth floats): packed panels are padded, and row-major slices are
// copied into a padded buffer, so the k loop needs no edge masking.
#if defined(SIMTUNE_VECTOR)
template <int R, bool kRowMajorA>
void micro_tile(const Tile& t) {
  const std::ptrdiff_t a_rs = kRowMajorA ? t.a_rs : 1, a_ks = kRowMajorA ? 1 : t.a_ks;
  // Every loop over r is unrolled, so acc[r] is always a register, never an indexed array in
  // memory.
  Vec acc[R][2];
#pragma GCC unroll 12
  for (int r = 0; r < R; r++) {
    float* c = t.c + r * t.ldc;
    if (!t.load_c) {
      acc[r][0] = acc[r][1] = vzero();
    } else if (t.cols == kWidth) {
      acc[r][0] = vload(c);
      acc[r][1] = vload(c + kLanes);
    } else {
      alignas(64) float row[kWidth] = {};
      std::memcpy(row, c, sizeof(float) * t.cols);
      acc[r][0] = vload(row);
      acc[r][1] = vload(row + kLanes);
    }
  }
  // Locals, not reads through t: the accumulators' stores could otherwise alias t, and the
  // compiler would keep them in memory instead of registers.
  const float* const ta = t.a;
  const float* const tb = t.b;
  const std::ptrdiff_t b_ks = t.b_ks;
  const int kc = t.kc;
  for (int k = 0; k < kc; k++) {
    const float* b = tb + k * b_ks;
    const Vec b0 = vload(b), b1 = vload(b + kLanes);
    const float* a = ta + k * a_ks;
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
      const Vec av = vbroadcast(a + r * a_rs);
      acc[r][0] = vfma(av, b0, acc[r][0]);
      acc[r][1] = vfma(av, b1, acc[r][1]);
    }
  }
#pragma GCC unroll 12
  for (int r = 0; r < R; r++) {
    float* c = t.c + r * t.ldc;
    if (t.cols == kWidth) {
      vstore(c, acc[r][0]);
      vstore(c + kLanes, acc[r][1]);
    } else {
      alignas(64) float row[kWidth];
      vstore(row, acc[r][0]);
      vstore(row + kLanes, acc[r][1]);
      std::memcpy(c, row, sizeof(float) * t.cols);
    }
  }
}
#else
// The same chains as plain multiply-adds, for CPUs without the vector paths above (std::fma
// would be a slow library call where the instruction is missing).
template <int R, bool>
void micro_tile(const Tile& t) {
  float acc[R][kWidth];
  for (int r = 0; r < R; r++) {
    for (int j = 0; j < kWidth; j++) acc[r][j] = t.load_c && j < t.cols ? t.c[r * t.ldc + j] : 0.0f;
  }
  for (int k = 0; k < t.kc; k++) {
    const float* b = t.b + k * t.b_ks;
    for (int r = 0; r < R; r++) {
      const float a = t.a[k * t.a_ks + r * t.a_rs];
      for (int j = 0; j < kWidth; j++) acc[r][j] += a * b[j];
    }
  }
  for (int r = 0; r < R; r++) {
    for (int j = 0; j < t.cols; j++) t.c[r * t.ldc + j] = acc[r][j];
  }
}
#endif

// The last rows, fewer than kRows: a tile of exactly that many rows.
template <int R, bool kRowMajorA>
void tail_tile(int rows, const Tile& t) {
  if constexpr (R > 0) {
    if (rows == R) return micro_tile<R, kRowMajorA>(t);
    tail_tile<R - 1, kRowMajorA>(rows, t);
  }
}

// Rows [0, rows) of one column tile for one k-block.
template <bool kRowMajorA>
void column_tile(Tile t, int rows) {
  int m = 0;
  for (; m + kRows <= rows; m += kRows) {
    micro_tile<kRows, kRowMajorA>(t);
    t.c += kRows * t.ldc;
    t.a += kRows * t.a_rs;
  }
  tail_tile<kRows - 1, kRowMajorA>(rows - m, t);
}

// How a product is cut into tasks (row block, column tile).
struct Plan {
  int row_block = 0, row_blocks = 0, tasks = 0;
};

// The plan of g, with no tasks when g has nothing to multiply (a K of 0 is settled here).
Plan plan_of(const GemmArgs& g) noexcept {
  if (g.M <= 0 || g.N <= 0) return {};
  if (g.K <= 0) {
    if (!g.accumulate) {
      for (int m = 0; m < g.M; m++) std::fill_n(g.c + m * g.ldc, g.N, 0.0f);
    }
    return {};
  }
  const int col_tiles = (g.N + kWidth - 1) / kWidth;
  // Rows per block: kRowBlock, or fewer when that gives the threads too few tasks to share
  // evenly (a short batch on 16 threads: 2 row blocks x 12 column tiles = 24 tasks leave half the
  // threads a task short of the others). Blocking never changes an element's chain.
  const int wanted_tasks = 4 * omp_get_max_threads();
  int row_block = kRowBlock;
  while (row_block > kRows && (g.M + row_block - 1) / row_block * col_tiles < wanted_tasks) {
    row_block -= kRows;
  }
  const int row_blocks = (g.M + row_block - 1) / row_block;
  return {row_block, row_blocks, row_blocks * col_tiles};
}

// b's rows k0..k0 + t.kc for the tile's columns, starting at n0, set in t.b and t.b_ks: packed
// panels in place, other layouts copied into `slice` (kDepth x kWidth floats).
void point_at_b(const GemmArgs& g, int n0, int k0, float* slice, Tile& t) noexcept {
  using BLayout = GemmArgs::BLayout;
  if (g.b_layout == BLayout::panels) {
    t.b = g.b + (n0 / kPanel) * g.b_panel + n0 % kPanel + k0 * g.b_ks;
    t.b_ks = g.b_ks;
    return;
  }
  if (g.b_layout == BLayout::transposed) {
    // The tile's columns are rows of b as stored: each read along k, written down a column of
    // the slice. Transposing here, where the slice is reused by every row block of the thread's
    // run, replaces packing a copy of b first (a pass over all of it).
    const float* b = g.b + n0 * g.b_ks + k0;
    const int square_cols = t.cols / kLanes * kLanes, square_k = t.kc / kLanes * kLanes;
    for (int c = 0; c < square_cols; c += kLanes) {
      for (int k = 0; k < square_k; k += kLanes) {
        transpose_square(b + c * g.b_ks + k, g.b_ks, slice + k * kWidth + c, kWidth);
      }
      for (int i = c; i < c + kLanes; i++) {
        for (int k = square_k; k < t.kc; k++) slice[k * kWidth + i] = b[i * g.b_ks + k];
      }
    }
    for (int c = square_cols; c < t.cols; c++) {
      for (int k = 0; k < t.kc; k++) slice[k * kWidth + c] = b[c * g.b_ks + k];
    }
    if (t.cols < kWidth) {
      for (int k = 0; k < t.kc; k++)
        std::fill(slice + k * kWidth + t.cols, slice + (k + 1) * kWidth, 0.0f);
    }
  } else {
    // A row-major b's slice, copied into consecutive padded rows of kWidth floats: its rows, a
    // row length apart, would otherwise share a few sets of the L1 cache and evict each other
    // (the AVX2 weight gradient ran at 60% of the forward's speed).
    const float* b = g.b + k0 * g.b_ks + n0;
    for (int k = 0; k < t.kc; k++) {
      const float* src = b + k * g.b_ks;
      float* row = slice + k * kWidth;
      // A whole row as a fixed-size copy (vector moves); only the last tile is padded.
      if (t.cols == kWidth) {
        std::memcpy(row, src, sizeof(float) * kWidth);
      } else {
        std::memcpy(row, src, sizeof(float) * t.cols);
        std::fill(row + t.cols, row + kWidth, 0.0f);
      }
    }
  }
  t.b = slice;
  t.b_ks = kWidth;
}

// Thread `id` of `threads`' share of g's tasks. Tasks (row block, column tile) are in
// column-tile-major order, split into one contiguous run per thread: each thread gets whole
// column tiles of every row block, so a short last row block does not leave one thread idle.
// The run goes kGroup column tiles at a time: for each k-block, their b slices are made ready
// (in `slices`), then each row block of a runs across all of them while it is in L2. One tile
// at a time, all of a was read again from memory for every 32 columns of c once it outgrew L2
// (bench matmul with 2,560 tokens: 68-75% of the peak one tile at a time, 77-86% eight at a
// time; 5,120 tokens: 54-67% and 74-81%). Every element's k-blocks run in order on one thread:
// the split never changes a chain.
void run_share(const GemmArgs& g, const Plan& p, int id, int threads, float* slices) noexcept {
  const int row_block = p.row_block, row_blocks = p.row_blocks;
  const int per = p.tasks / threads, extra = p.tasks % threads;
  const int first = id * per + std::min(id, extra);
  const int last = first + per + (id < extra ? 1 : 0);
  const auto tile = g.a_ks == 1 ? column_tile<true> : column_tile<false>;
  for (int task = first; task < last;) {
    // The next (up to) kGroup column tiles of the run, each with its row blocks [rb0, rb1).
    int cols[kGroup], rb0[kGroup], rb1[kGroup], group = 0;
    int lo = row_blocks, hi = 0;
    for (; group < kGroup && task < last; group++) {
      const int col = task / row_blocks;
      const int end = std::min(last, (col + 1) * row_blocks);
      cols[group] = col;
      rb0[group] = task - col * row_blocks;
      rb1[group] = end - col * row_blocks;
      lo = std::min(lo, rb0[group]);
      hi = std::max(hi, rb1[group]);
      task = end;
    }
    Tile tiles[kGroup];
    for (int k0 = 0; k0 < g.K; k0 += kDepth) {
      for (int i = 0; i < group; i++) {
        Tile& t = tiles[i];
        const int n0 = cols[i] * kWidth;
        t.ldc = g.ldc;
        t.a_rs = g.a_rs;
        t.a_ks = g.a_ks;
        t.cols = std::min(kWidth, g.N - n0);
        t.kc = std::min(kDepth, g.K - k0);
        t.load_c = k0 > 0 || g.accumulate;
        point_at_b(g, n0, k0, slices + i * kDepth * kWidth, t);
      }
      const bool last_k = k0 + kDepth >= g.K;
      for (int rb = lo; rb < hi; rb++) {
        const int m0 = rb * row_block, rows = std::min(row_block, g.M - m0);
        for (int i = 0; i < group; i++) {
          if (rb < rb0[i] || rb >= rb1[i]) continue;
          Tile& t = tiles[i];
          const int n0 = cols[i] * kWidth;
          t.c = g.c + m0 * g.ldc + n0;
          t.a = g.a + m0 * g.a_rs + k0 * g.a_ks;
          tile(t, rows);
          if (last_k && g.epilogue != nullptr) {
            g.epilogue->apply(g.epilogue->ctx, t.c, g.ldc, m0, rows, n0, t.cols);
          }
        }
      }
    }
  }
}

}  // namespace

void gemm(const GemmArgs* products, int count) noexcept {
  Plan plans[kMaxProducts];
  int work = 0;
  for (int i = 0; i < count; i++) {
    plans[i] = plan_of(products[i]);
    work += plans[i].tasks;
  }
  if (work == 0) return;
    // Each thread runs its share of every product in turn, with no barrier between them: the
    // products write different outputs, and one wake-up of the threads serves them all.
#pragma omp parallel
  {
    const int threads = omp_get_num_threads(), id = omp_get_thread_num();
    alignas(64) float slices[kGroup * kDepth * kWidth];
    for (int i = 0; i < count; i++) {
      if (plans[i].tasks > 0) run_share(products[i], plans[i], id, threads, slices);
    }
  }
}

}  // namespace simtune::SIMTUNE_ISA_NS

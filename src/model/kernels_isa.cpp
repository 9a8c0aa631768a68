// The model's kernels, compiled once per instruction set like src/core/gemm_isa.cpp (CMake builds
// every *_isa.cpp three times, each copy in its own namespace); kernels.cpp dispatches to the
// running CPU's copy. The `omp simd` loops vectorise to each copy's register width.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "model/kernel_table.h"
#include "simtune/core/matmul.h"
#include "simtune/core/rng.h"

namespace simtune::SIMTUNE_ISA_NS {
namespace {

// erf(x) as x * P(x^2) / Q(x^2) on [-4, 4] (erf is +-1 to float precision beyond): the rational
// minimax fit used by Eigen and XLA for float, accurate to a few ulp. glibc's erff is scalar and
// would cost as much as the matrix products at MiniLM's sizes.
inline float fast_erf(float x) {
  x = std::clamp(x, -4.0f, 4.0f);
  const float x2 = x * x;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 + -2.10102402082508e-06f;
  p = p * x2 + -5.69250639462346e-05f;
  p = p * x2 + -7.34990630326855e-04f;
  p = p * x2 + -2.95459980854025e-03f;
  p = p * x2 + -1.60960333262415e-02f;
  float q = -1.45660718464996e-05f;
  q = q * x2 + -2.13374055278905e-04f;
  q = q * x2 + -1.68282697438203e-03f;
  q = q * x2 + -7.37332916720468e-03f;
  q = q * x2 + -1.42647390514189e-02f;
  return x * p / q;
}

// exp(x) for the softmax's x <= 0: x = n ln2 + r with |r| <= ln2/2, exp(r) by its degree-6
// Taylor polynomial (error below 2e-7 relative), times 2^n built in the exponent bits. Written
// so the loop around it vectorises; glibc's expf does not.
inline float fast_exp(float x) {
  x = std::max(x, -87.0f);  // below that exp underflows to 0 anyway
  const float n = std::nearbyint(x * 1.44269504088896341f);
  const float r = x - n * 0.693145751953125f - n * 1.428606765330187e-06f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const std::int32_t bits = (static_cast<std::int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

inline void normalize_row(float* out, float* mean_out, float* rstd_out, const float* x,
                          const float* w, const float* b, int C, float eps) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int i = 0; i < C; i++) sum += x[i];
  const float m = sum / C;
  float var = 0.0f;
#pragma omp simd reduction(+ : var)
  for (int i = 0; i < C; i++) var += (x[i] - m) * (x[i] - m);
  const float s = 1.0f / std::sqrt(var / C + eps);
#pragma omp simd
  for (int i = 0; i < C; i++) out[i] = (x[i] - m) * s * w[i] + b[i];
  *mean_out = m;
  *rstd_out = s;
}

// Splits [0, n) into equal contiguous chunks, one per thread: for reductions over tokens into a
// per-channel result, each thread owns a block of channels, so nothing races and no scratch is
// needed.
inline void thread_chunk(int n, int& begin, int& end) {
  const int threads = omp_get_num_threads(), id = omp_get_thread_num();
  const int per = (n + threads - 1) / threads;
  begin = std::min(n, id * per);
  end = std::min(n, begin + per);
}

// dx (C) += the input gradient of normalize_row given the row's dout d.
inline void layernorm_row_backward(float* dx, const float* d, const float* x, const float* weight,
                                   float m, float s, int C) {
  // dnorm = dout * weight; dx = s * (dnorm - mean(dnorm) - norm * mean(dnorm * norm)).
  float sum_d = 0.0f, sum_dn = 0.0f;
#pragma omp simd reduction(+ : sum_d, sum_dn)
  for (int i = 0; i < C; i++) {
    const float dn = d[i] * weight[i];
    sum_d += dn;
    sum_dn += dn * (x[i] - m) * s;
  }
  sum_d /= C;
  sum_dn /= C;
#pragma omp simd
  for (int i = 0; i < C; i++) {
    const float norm = (x[i] - m) * s;
    dx[i] += s * (d[i] * weight[i] - sum_d - norm * sum_dn);
  }
}

// dweight, dbias (C) += LayerNorm's parameter gradients, channels [c0, c1) only (thread_chunk).
inline void layernorm_param_backward(float* dweight, float* dbias, const float* dout,
                                     const float* inp, const float* mean, const float* rstd, int N,
                                     int C, int c0, int c1) {
  for (int t = 0; t < N; t++) {
    const std::int64_t row = static_cast<std::int64_t>(t) * C;
    const float m = mean[t], s = rstd[t];
    for (int i = c0; i < c1; i++) {
      dweight[i] += dout[row + i] * (inp[row + i] - m) * s;
      dbias[i] += dout[row + i];
    }
  }
}

// sums (C) += column sums of x (N,C), channels [c0, c1) only (thread_chunk): a bias gradient.
inline void column_sums(float* sums, const float* x, int N, int C, int c0, int c1) {
  for (int t = 0; t < N; t++) {
    const float* xr = x + static_cast<std::int64_t>(t) * C;
    for (int i = c0; i < c1; i++) sums[i] += xr[i];
  }
}

// block += bias (ctx) on a finished block of a product, while it is in cache.
void bias_block(const void* ctx, float* block, std::ptrdiff_t ld, int, int rows, int n0,
                int cols) noexcept {
  const float* b = static_cast<const float*>(ctx) + n0;
  for (int r = 0; r < rows; r++) {
    float* x = block + r * ld;
#pragma omp simd
    for (int i = 0; i < cols; i++) x[i] += b[i];
  }
}

// Attention works on one (sequence, head) pair at a time: its head index, first packed row,
// length, and the offset of its T*T probabilities.
struct HeadBlock {
  int h, start, T;
  std::int64_t probs;
};

// 16 floats as kChunkVecs native vectors: one register with AVX-512, two with AVX2, four with
// SSE2. Sums held in these stay in registers, where a float[16] in a loop was often kept in
// memory (and a 64-byte vector type without AVX-512 was spilled to the stack).
#if defined(__AVX512F__)
constexpr int kVecFloats = 16;
#elif defined(__AVX2__)
constexpr int kVecFloats = 8;
#else
constexpr int kVecFloats = 4;
#endif
using Vec = float __attribute__((vector_size(kVecFloats * sizeof(float))));
using V8 = float __attribute__((vector_size(32)));
using V4 = float __attribute__((vector_size(16)));
constexpr int kChunkVecs = 16 / kVecFloats;

inline Vec loadv(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// The 16 floats of a chunk, element l in vector l / kVecFloats, summed in one fixed order on
// every instruction set: l with l + 8, then with l + 4, then (0 + 2) + (1 + 3).
inline float sum16(const Vec (&acc)[kChunkVecs]) {
  V8 lo8, hi8;
  if constexpr (kVecFloats == 4) {
    std::memcpy(&lo8, &acc[0], sizeof(V4));
    std::memcpy(reinterpret_cast<char*>(&lo8) + sizeof(V4), &acc[1], sizeof(V4));
    std::memcpy(&hi8, &acc[2], sizeof(V4));
    std::memcpy(reinterpret_cast<char*>(&hi8) + sizeof(V4), &acc[3], sizeof(V4));
  } else {
    std::memcpy(&lo8, &acc[0], sizeof lo8);
    std::memcpy(&hi8, reinterpret_cast<const char*>(&acc[0]) + sizeof lo8, sizeof hi8);
  }
  const V8 s8 = lo8 + hi8;
  V4 lo4, hi4;
  std::memcpy(&lo4, &s8, sizeof lo4);
  std::memcpy(&hi4, reinterpret_cast<const char*>(&s8) + sizeof lo4, sizeof hi4);
  const V4 s4 = lo4 + hi4;
  return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}

// a[0..n) . b[0..n): 16 partial sums (lane l takes every 16th product), added as sum16 does,
// then the tail. `omp simd reduction` left the lanes' final sum to the compiler, which added
// them one by one.
inline float dot(const float* a, const float* b, int n) {
  Vec acc[kChunkVecs] = {};
  int d = 0;
  for (; d + 16 <= n; d += 16) {
#pragma GCC unroll 4
    for (int k = 0; k < kChunkVecs; k++) {
      acc[k] += loadv(a + d + k * kVecFloats) * loadv(b + d + k * kVecFloats);
    }
  }
  float sum = sum16(acc);
  for (; d < n; d++) sum += a[d] * b[d];
  return sum;
}

// out[i * out_stride + j] = dot(a_i, b_j, n) for i < rows, j < T, where a_i = a + i * a_stride
// and b_j = b + j * b_stride: the same bits as dot, kVecFloats values of j at a time. Lane l's
// partial sum for every j sits in one vector (products of b transposed a block of j at a time),
// so the 16 partial sums and sum16's additions run across j in whole vectors, where one dot at a
// time spent more instructions adding its lanes together than multiplying.
inline void dot_rows(float* out, std::int64_t out_stride, const float* a, std::int64_t a_stride,
                     int rows, const float* b, std::int64_t b_stride, int T, int n) {
  constexpr int kMaxWidth = 256;
  if (n % 16 != 0 || n > kMaxWidth) {
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < T; j++)
        out[i * out_stride + j] = dot(a + i * a_stride, b + j * b_stride, n);
    }
    return;
  }
  alignas(64) float bt[kMaxWidth * kVecFloats];  // bt[d * kVecFloats + j]: b_(j0 + j)[d]
  for (int j0 = 0; j0 < T; j0 += kVecFloats) {
    // The last block's missing keys are zeros: their lanes are computed and never stored.
    const int width = std::min(kVecFloats, T - j0);
    for (int j = 0; j < kVecFloats; j++) {
      if (j < width) {
        const float* bj = b + (j0 + j) * b_stride;
        for (int d = 0; d < n; d++) bt[d * kVecFloats + j] = bj[d];
      } else {
        for (int d = 0; d < n; d++) bt[d * kVecFloats + j] = 0.0f;
      }
    }
    for (int i = 0; i < rows; i++) {
      const float* ai = a + i * a_stride;
      Vec part[16] = {};
      for (int d = 0; d < n; d += 16) {
#pragma GCC unroll 16
        for (int l = 0; l < 16; l++) part[l] += ai[d + l] * loadv(bt + (d + l) * kVecFloats);
      }
      Vec s8[8], s4[4];
#pragma GCC unroll 8
      for (int l = 0; l < 8; l++) s8[l] = part[l] + part[l + 8];
#pragma GCC unroll 4
      for (int l = 0; l < 4; l++) s4[l] = s8[l] + s8[l + 4];
      const Vec sum = (s4[0] + s4[2]) + (s4[1] + s4[3]);
      std::memcpy(out + i * out_stride + j0, &sum, sizeof(float) * static_cast<std::size_t>(width));
    }
  }
}

// For r < R: out_r[0..n) = sum over j < T, in order, of w_rj (times m_rj, when m is given)
// rows_j[0..n), where out_r = out + r * out_next, w_rj = w[r * w_next + j * w_stride], m_rj =
// m[r * w_next + j * w_stride] and rows_j = rows + j * stride. Each element is one chain over j
// whatever R; the R rows share each load of rows_j, and their R chains run side by side, where
// one row's single chain waited on every add before the next. The sums for 16 floats of each out_r
// stay in registers across j, and out is written once.
template <int R>
inline void weighted_rows(float* out, std::int64_t out_next, const float* w, std::int64_t w_next,
                          std::int64_t w_stride, const float* m, const float* rows,
                          std::int64_t stride, int T, int n) {
  auto weight = [&](int r, int j) {
    const std::int64_t at = r * w_next + j * w_stride;
    return m != nullptr ? w[at] * m[at] : w[at];
  };
  int d0 = 0;
  for (; d0 + 16 <= n; d0 += 16) {
    Vec acc[R][kChunkVecs] = {};
    for (int j = 0; j < T; j++) {
      const float* row = rows + j * stride + d0;
      Vec x[kChunkVecs];
#pragma GCC unroll 4
      for (int k = 0; k < kChunkVecs; k++) x[k] = loadv(row + k * kVecFloats);
#pragma GCC unroll 8
      for (int r = 0; r < R; r++) {
        const float wj = weight(r, j);
#pragma GCC unroll 4
        for (int k = 0; k < kChunkVecs; k++) acc[r][k] += wj * x[k];
      }
    }
    for (int r = 0; r < R; r++) std::memcpy(out + r * out_next + d0, acc[r], sizeof acc[r]);
  }
  for (; d0 < n; d0++) {
    for (int r = 0; r < R; r++) {
      float acc = 0.0f;
      for (int j = 0; j < T; j++) acc += weight(r, j) * rows[j * stride + d0];
      out[r * out_next + d0] = acc;
    }
  }
}

// weighted_rows for `count` outputs, eight at a time.
inline void weighted_rows_each(int count, float* out, std::int64_t out_next, const float* w,
                               std::int64_t w_next, std::int64_t w_stride, const float* m,
                               const float* rows, std::int64_t stride, int T, int n) {
  constexpr int kBlock = 8;
  int r = 0;
  for (; r + kBlock <= count; r += kBlock) {
    weighted_rows<kBlock>(out + r * out_next, out_next, w + r * w_next, w_next, w_stride,
                          m != nullptr ? m + r * w_next : nullptr, rows, stride, T, n);
  }
  for (; r < count; r++) {
    weighted_rows<1>(out + r * out_next, out_next, w + r * w_next, w_next, w_stride,
                     m != nullptr ? m + r * w_next : nullptr, rows, stride, T, n);
  }
}

inline HeadBlock head_block(SeqSpans spans, const std::int64_t* probs_offsets, int NH, int task) {
  const int b = task / NH, h = task % NH;
  const int start = spans.offsets[b];
  const int T = spans.offsets[b + 1] - start;
  return {h, start, T, probs_offsets[b] + static_cast<std::int64_t>(h) * T * T};
}

}  // namespace

float gelu(float x) noexcept {
  return 0.5f * x * (1.0f + fast_erf(x * 0.70710678118654752f));
}

float gelu_grad(float x) noexcept {
  const float cdf = 0.5f * (1.0f + fast_erf(x * 0.70710678118654752f));
  const float pdf = 0.3989422804014327f * fast_exp(-0.5f * x * x);
  return cdf + x * pdf;
}

void embeddings_forward(float* out, const std::int32_t* ids, const std::int32_t* positions,
                        const float* wte, const float* wpe, const float* wtt, int N,
                        int C) noexcept {
#pragma omp parallel for schedule(static)
  for (int t = 0; t < N; t++) {
    const float* we = wte + static_cast<std::int64_t>(ids[t]) * C;
    const float* pe = wpe + static_cast<std::int64_t>(positions[t]) * C;
    float* o = out + static_cast<std::int64_t>(t) * C;
#pragma omp simd
    for (int i = 0; i < C; i++) o[i] = we[i] + wtt[i] + pe[i];
  }
}

void embeddings_backward(float* dwte, float* dwpe, float* dwtt, const float* dout,
                         const std::int32_t* ids, const std::int32_t* positions, int N,
                         int C) noexcept {
  // Tokens repeat ids and positions, so threads split channels rather than tokens.
#pragma omp parallel
  {
    int c0, c1;
    thread_chunk(C, c0, c1);
    for (int t = 0; t < N; t++) {
      const float* d = dout + static_cast<std::int64_t>(t) * C;
      float* we = dwte + static_cast<std::int64_t>(ids[t]) * C;
      float* pe = dwpe + static_cast<std::int64_t>(positions[t]) * C;
      for (int i = c0; i < c1; i++) {
        we[i] += d[i];
        pe[i] += d[i];
        dwtt[i] += d[i];
      }
    }
  }
}

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int N, int C, float eps) noexcept {
#pragma omp parallel for schedule(static)
  for (int t = 0; t < N; t++) {
    const std::int64_t row = static_cast<std::int64_t>(t) * C;
    normalize_row(out + row, mean + t, rstd + t, inp + row, weight, bias, C, eps);
  }
}

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                        const float* inp, const float* weight, const float* mean, const float* rstd,
                        int N, int C) noexcept {
#pragma omp parallel
  {
    // Input gradient: rows are independent.
#pragma omp for schedule(static)
    for (int t = 0; t < N; t++) {
      const std::int64_t row = static_cast<std::int64_t>(t) * C;
      std::fill(dinp + row, dinp + row + C, 0.0f);
      layernorm_row_backward(dinp + row, dout + row, inp + row, weight, mean[t], rstd[t], C);
    }
    // Parameter gradients: sums over tokens, each thread owning a block of channels.
    int c0, c1;
    thread_chunk(C, c0, c1);
    layernorm_param_backward(dweight, dbias, dout, inp, mean, rstd, N, C, c0, c1);
  }
}

void dropout_masks(const DropoutDraw* draws, int count) noexcept {
#pragma omp parallel
  for (int d = 0; d < count; d++) {
    float* mask = draws[d].mask;
    const std::int64_t n = draws[d].n;
    const float p = draws[d].p, keep = 1.0f / (1.0f - p);
    const std::uint64_t key = draws[d].key;
    // No barrier between masks: each thread goes on to its part of the next.
#pragma omp for simd schedule(static) nowait
    for (std::int64_t i = 0; i < n; i++) {
      const auto bits =
          static_cast<std::uint32_t>(splitmix64(key, static_cast<std::uint64_t>(i)) >> 40);
      mask[i] = static_cast<float>(bits) * 0x1.0p-24f < p ? 0.0f : keep;
    }
  }
}

void dropout_apply(float* x, const float* mask, std::int64_t n) noexcept {
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < n; i++) x[i] *= mask[i];
}

void linear_forward(float* out, const float* inp, const PackedMatrix& weight, const float* bias,
                    int N) noexcept {
  const TileEpilogue add_bias{bias_block, bias};
  matmul_packed(out, inp, weight, N, bias != nullptr ? &add_bias : nullptr);
}

void linear_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int N, int C, int OC, Into into) noexcept {
  matmul_backward(dinp, dweight, dout, inp, weight, N, C, OC, into);
  if (dbias == nullptr) return;
#pragma omp parallel
  {
    int c0, c1;
    thread_chunk(OC, c0, c1);
    column_sums(dbias, dout, N, OC, c0, c1);
  }
}

std::int64_t attention_probs_offsets(std::int64_t* offsets, SeqSpans spans, int NH) noexcept {
  offsets[0] = 0;
  for (int b = 0; b < spans.B; b++) {
    const std::int64_t T = spans.offsets[b + 1] - spans.offsets[b];
    offsets[b + 1] = offsets[b] + NH * T * T;
  }
  return offsets[spans.B];
}

void attention_forward(float* ctx, float* probs, const float* qkv, const float* dropout,
                       SeqSpans spans, const std::int64_t* probs_offsets, int NH, int C) noexcept {
  const int HS = C / NH;
  const int C3 = 3 * C;
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
  const int work = spans.B * NH;
  // One (sequence, head) pair per task; lengths differ, so hand them out dynamically.
#pragma omp parallel for schedule(dynamic, 1)
  for (int task = 0; task < work; task++) {
    const HeadBlock hb = head_block(spans, probs_offsets, NH, task);
    const int h = hb.h, start = hb.start, T = hb.T;
    const std::int64_t block = hb.probs;
    float* P = probs + block;
    const float* q = qkv + static_cast<std::int64_t>(start) * C3 + h * HS;
    dot_rows(P, T, q, C3, T, q + C, C3, T, HS);  // q_i . k_j
    for (int i = 0; i < T; i++) {
      float* p = P + static_cast<std::int64_t>(i) * T;
      float maxv = -INFINITY;
      for (int j = 0; j < T; j++) {
        p[j] *= scale;
        maxv = std::max(maxv, p[j]);
      }
      float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
      for (int j = 0; j < T; j++) {
        p[j] = fast_exp(p[j] - maxv);
        sum += p[j];
      }
      const float inv = 1.0f / sum;
      for (int j = 0; j < T; j++) p[j] *= inv;
    }
    // ctx_i = sum_j m_ij p_ij v_j, for every row i of the block at once.
    const float* m = dropout != nullptr ? dropout + block : nullptr;
    float* o = ctx + static_cast<std::int64_t>(start) * C + h * HS;
    const float* v = qkv + static_cast<std::int64_t>(start) * C3 + 2 * C + h * HS;
    weighted_rows_each(T, o, C, P, T, 1, m, v, C3, T, HS);
  }
}

void attention_backward(float* dqkv, float* dprobs, const float* dctx, const float* qkv,
                        const float* probs, const float* dropout, SeqSpans spans,
                        const std::int64_t* probs_offsets, int NH, int C) noexcept {
  const int HS = C / NH;
  const int C3 = 3 * C;
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
  const int work = spans.B * NH;
  // Each (sequence, head) task writes only its own rows and head columns of dqkv.
#pragma omp parallel for schedule(dynamic, 1)
  for (int task = 0; task < work; task++) {
    const HeadBlock hb = head_block(spans, probs_offsets, NH, task);
    const int h = hb.h, start = hb.start, T = hb.T;
    const float* P = probs + hb.probs;
    const float* M = dropout != nullptr ? dropout + hb.probs : nullptr;
    float* dS = dprobs + hb.probs;
    // Row i of the query (part 0), key (1) or value (2), and of its gradient.
    auto in = [&](int i, int part) {
      return qkv + static_cast<std::int64_t>(start + i) * C3 + part * C + h * HS;
    };
    auto out = [&](int i, int part) {
      return dqkv + static_cast<std::int64_t>(start + i) * C3 + part * C + h * HS;
    };
    const float* dc = dctx + static_cast<std::int64_t>(start) * C + h * HS;
    // ctx_i = sum_j m_ij p_ij v_j, so dp_ij = m_ij dctx_i . v_j. Softmax: ds_ij = p_ij (dp_ij -
    // sum_k p_ik dp_ik), times scale as the scores are scale * q_i . k_j. dS holds dp, then ds.
    dot_rows(dS, T, dc, C, T, in(0, 2), C3, T, HS);  // dctx_i . v_j
    for (int i = 0; i < T; i++) {
      const float* p = P + static_cast<std::int64_t>(i) * T;
      const float* m = M != nullptr ? M + static_cast<std::int64_t>(i) * T : nullptr;
      float* ds = dS + static_cast<std::int64_t>(i) * T;
      if (m != nullptr) {
        for (int j = 0; j < T; j++) ds[j] *= m[j];
      }
      float pdp = 0.0f;
      for (int j = 0; j < T; j++) pdp += p[j] * ds[j];
      for (int j = 0; j < T; j++) ds[j] = p[j] * (ds[j] - pdp) * scale;
    }
    // dq_i = sum_j ds_ij k_j, dk_j = sum_i ds_ij q_i, dv_j = sum_i m_ij p_ij dctx_i.
    weighted_rows_each(T, out(0, 0), C3, dS, T, 1, nullptr, in(0, 1), C3, T, HS);
    weighted_rows_each(T, out(0, 1), C3, dS, 1, T, nullptr, in(0, 0), C3, T, HS);
    weighted_rows_each(T, out(0, 2), C3, P, 1, T, M, dc, C, T, HS);
  }
}

void bias_residual_layernorm_forward(float* out, float* mean, float* rstd, float* x,
                                     const float* bias, const float* dropout, const float* residual,
                                     const float* weight, const float* ln_bias, int N, int C,
                                     float eps) noexcept {
#pragma omp parallel for schedule(static)
  for (int t = 0; t < N; t++) {
    const std::int64_t row = static_cast<std::int64_t>(t) * C;
    float* xr = x + row;
    const float* rr = residual + row;
    if (dropout != nullptr) {
      const float* mr = dropout + row;
#pragma omp simd
      for (int i = 0; i < C; i++) xr[i] = (xr[i] + bias[i]) * mr[i] + rr[i];
    } else {
#pragma omp simd
      for (int i = 0; i < C; i++) xr[i] = (xr[i] + bias[i]) + rr[i];
    }
    normalize_row(out + row, mean + t, rstd + t, xr, weight, ln_bias, C, eps);
  }
}

void bias_residual_layernorm_backward(float* dresidual, float* ddense, float* dbias, float* dweight,
                                      float* dln_bias, const float* dout, const float* x,
                                      const float* mean, const float* rstd, const float* dropout,
                                      const float* weight, int N, int C) noexcept {
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int t = 0; t < N; t++) {
      const std::int64_t row = static_cast<std::int64_t>(t) * C;
      float* dd = ddense + row;
      float* dr = dresidual + row;
      // ddense and dresidual are written: ddense zeroed, then it receives the row's dx.
      std::fill(dd, dd + C, 0.0f);
      layernorm_row_backward(dd, dout + row, x + row, weight, mean[t], rstd[t], C);
      std::copy(dd, dd + C, dr);
      if (dropout != nullptr) {
        const float* mr = dropout + row;
#pragma omp simd
        for (int i = 0; i < C; i++) dd[i] *= mr[i];
      }
    }
    int c0, c1;
    thread_chunk(C, c0, c1);
    layernorm_param_backward(dweight, dln_bias, dout, x, mean, rstd, N, C, c0, c1);
    column_sums(dbias, ddense, N, C, c0, c1);
  }
}

namespace {

struct BiasGelu {
  const float* bias;
  float* out;
};

// x = block + bias, written back, and gelu(x) into the same rows and columns of out.
void bias_gelu_block(const void* ctx, float* block, std::ptrdiff_t ld, int m0, int rows, int n0,
                     int cols) noexcept {
  const auto& e = *static_cast<const BiasGelu*>(ctx);
  const float* b = e.bias + n0;
  for (int r = 0; r < rows; r++) {
    float* x = block + r * ld;
    float* o = e.out + (m0 + r) * ld + n0;
#pragma omp simd
    for (int i = 0; i < cols; i++) {
      const float v = x[i] + b[i];
      x[i] = v;
      o[i] = gelu(v);
    }
  }
}

}  // namespace

void linear_gelu_forward(float* out, float* x, const float* inp, const PackedMatrix& weight,
                         const float* bias, int N) noexcept {
  const BiasGelu ctx{bias, out};
  const TileEpilogue epilogue{bias_gelu_block, &ctx};
  matmul_packed(x, inp, weight, N, &epilogue);
}

void bias_gelu_backward(float* dinp, float* dbias, const float* dout, const float* x, int N,
                        int C) noexcept {
  const std::int64_t n = static_cast<std::int64_t>(N) * C;
#pragma omp parallel
  {
#pragma omp for simd schedule(static)
    for (std::int64_t i = 0; i < n; i++) dinp[i] = dout[i] * gelu_grad(x[i]);
    int c0, c1;
    thread_chunk(C, c0, c1);
    column_sums(dbias, dinp, N, C, c0, c1);
  }
}

void gelu_recompute(float* out, const float* x, std::int64_t n) noexcept {
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < n; i++) out[i] = gelu(x[i]);
}

extern const KernelTable kKernels = {
    gelu,
    gelu_grad,
    embeddings_forward,
    embeddings_backward,
    layernorm_forward,
    layernorm_backward,
    dropout_masks,
    dropout_apply,
    linear_forward,
    linear_backward,
    attention_probs_offsets,
    attention_forward,
    attention_backward,
    bias_residual_layernorm_forward,
    bias_residual_layernorm_backward,
    linear_gelu_forward,
    bias_gelu_backward,
    gelu_recompute,
};

}  // namespace simtune::SIMTUNE_ISA_NS

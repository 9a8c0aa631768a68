// The model's kernels, compiled once per instruction set like src/core/gemm_isa.cpp (CMake builds
// every *_isa.cpp three times, each copy in its own namespace); kernels.cpp dispatches to the
// running CPU's copy. The `omp simd` loops vectorise to each copy's register width.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "model/kernel_table.h"
#include "simtune/core/matmul.h"

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

// x (N,OC) += bias (OC).
inline void bias_forward(float* x, const float* bias, int N, int OC) {
#pragma omp parallel for schedule(static)
  for (int t = 0; t < N; t++) {
    float* xr = x + static_cast<std::int64_t>(t) * OC;
#pragma omp simd
    for (int i = 0; i < OC; i++) xr[i] += bias[i];
  }
}

// Attention works on one (sequence, head) pair at a time: its head index, first packed row,
// length, and the offset of its T*T probabilities.
struct HeadBlock {
  int h, start, T;
  std::int64_t probs;
};

// out[0..n) += sum over j < T of w_j (times m_j, when m is given) rows_j[0..n), in order of j,
// where rows_j = rows + j * stride. The sum for 16 floats of out at a time stays in registers
// across j; accumulating in out itself made every step wait for the last one's store.
inline void add_weighted_rows(float* out, const float* w, const float* m, const float* rows,
                              std::int64_t stride, int T, int n) {
  constexpr int kChunk = 16;
  int d0 = 0;
  for (; d0 + kChunk <= n; d0 += kChunk) {
    float acc[kChunk];
#pragma omp simd
    for (int l = 0; l < kChunk; l++) acc[l] = out[d0 + l];
    for (int j = 0; j < T; j++) {
      const float wj = m != nullptr ? w[j] * m[j] : w[j];
      const float* r = rows + j * stride + d0;
#pragma omp simd
      for (int l = 0; l < kChunk; l++) acc[l] += wj * r[l];
    }
#pragma omp simd
    for (int l = 0; l < kChunk; l++) out[d0 + l] = acc[l];
  }
  for (; d0 < n; d0++) {
    float acc = out[d0];
    for (int j = 0; j < T; j++) acc += (m != nullptr ? w[j] * m[j] : w[j]) * rows[j * stride + d0];
    out[d0] = acc;
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
      layernorm_row_backward(dinp + row, dout + row, inp + row, weight, mean[t], rstd[t], C);
    }
    // Parameter gradients: sums over tokens, each thread owning a block of channels.
    int c0, c1;
    thread_chunk(C, c0, c1);
    layernorm_param_backward(dweight, dbias, dout, inp, mean, rstd, N, C, c0, c1);
  }
}

void dropout_apply(float* x, const float* mask, std::int64_t n) noexcept {
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < n; i++) x[i] *= mask[i];
}

void linear_forward(float* out, const float* inp, const PackedMatrix& weight, const float* bias,
                    int N) noexcept {
  matmul_packed(out, inp, weight, N);
  if (bias != nullptr) bias_forward(out, bias, N, weight.out_features());
}

void linear_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int N, int C, int OC) noexcept {
  matmul_dinp(dinp, dout, weight, N, C, OC);
  matmul_dweight(dweight, dout, inp, N, C, OC);
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
    for (int i = 0; i < T; i++) {
      const float* q = qkv + static_cast<std::int64_t>(start + i) * C3 + h * HS;
      float* p = P + static_cast<std::int64_t>(i) * T;
      float maxv = -INFINITY;
      for (int j = 0; j < T; j++) {
        const float* k = qkv + static_cast<std::int64_t>(start + j) * C3 + C + h * HS;
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int d = 0; d < HS; d++) dot += q[d] * k[d];
        p[j] = dot * scale;
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
      const float* m =
          dropout != nullptr ? dropout + block + static_cast<std::int64_t>(i) * T : nullptr;
      float* o = ctx + static_cast<std::int64_t>(start + i) * C + h * HS;
      for (int d = 0; d < HS; d++) o[d] = 0.0f;
      const float* v = qkv + static_cast<std::int64_t>(start) * C3 + 2 * C + h * HS;
      add_weighted_rows(o, p, m, v, C3, T, HS);
    }
  }
}

void attention_backward(float* dqkv, float* dprobs, const float* dctx, const float* qkv,
                        const float* probs, const float* dropout, SeqSpans spans,
                        const std::int64_t* probs_offsets, int NH, int C) noexcept {
  const int HS = C / NH;
  const int C3 = 3 * C;
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
  const int work = spans.B * NH;
  // Each (sequence, head) task touches only its own rows and head columns of dqkv.
#pragma omp parallel for schedule(dynamic, 1)
  for (int task = 0; task < work; task++) {
    const HeadBlock hb = head_block(spans, probs_offsets, NH, task);
    const int h = hb.h, start = hb.start, T = hb.T;
    const std::int64_t block = hb.probs;
    const float* P = probs + block;
    float* dP = dprobs + block;
    auto q = [&](int i) { return qkv + static_cast<std::int64_t>(start + i) * C3 + h * HS; };
    auto dq = [&](int i) { return dqkv + static_cast<std::int64_t>(start + i) * C3 + h * HS; };
    for (int i = 0; i < T; i++) {
      const float* dc = dctx + static_cast<std::int64_t>(start + i) * C + h * HS;
      const float* p = P + static_cast<std::int64_t>(i) * T;
      float* dp = dP + static_cast<std::int64_t>(i) * T;
      const float* m =
          dropout != nullptr ? dropout + block + static_cast<std::int64_t>(i) * T : nullptr;
      // ctx_i = sum_j m_ij p_ij v_j: dp_ij = m_ij dctx_i . v_j, dv_j += m_ij p_ij dctx_i.
      for (int j = 0; j < T; j++) {
        const float* v = q(j) + 2 * C;
        float* dv = dq(j) + 2 * C;
        const float mj = m != nullptr ? m[j] : 1.0f;
        const float pj = p[j] * mj;
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int d = 0; d < HS; d++) {
          dot += dc[d] * v[d];
          dv[d] += pj * dc[d];
        }
        dp[j] = dot * mj;
      }
      // Softmax: ds_ij = p_ij (dp_ij - sum_k p_ik dp_ik); scores are scale * q_i . k_j.
      float pdp = 0.0f;
      for (int j = 0; j < T; j++) pdp += p[j] * dp[j];
      // dp becomes ds (dprobs is scratch).
      for (int j = 0; j < T; j++) dp[j] = p[j] * (dp[j] - pdp) * scale;
      const float* qi = q(i);
      for (int j = 0; j < T; j++) {
        const float ds = dp[j];
        float* dkj = dq(j) + C;
#pragma omp simd
        for (int d = 0; d < HS; d++) dkj[d] += ds * qi[d];
      }
      add_weighted_rows(dq(i), dp, nullptr, q(0) + C, C3, T, HS);
    }
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
      // ddense is written: zeroed, then it receives the row's dx.
      std::fill(dd, dd + C, 0.0f);
      layernorm_row_backward(dd, dout + row, x + row, weight, mean[t], rstd[t], C);
#pragma omp simd
      for (int i = 0; i < C; i++) dr[i] += dd[i];
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

void bias_gelu_forward(float* out, float* x, const float* bias, int N, int C) noexcept {
#pragma omp parallel for schedule(static)
  for (int t = 0; t < N; t++) {
    const std::int64_t row = static_cast<std::int64_t>(t) * C;
    float* xr = x + row;
    float* o = out + row;
#pragma omp simd
    for (int i = 0; i < C; i++) {
      const float v = xr[i] + bias[i];
      xr[i] = v;
      o[i] = gelu(v);
    }
  }
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
    dropout_apply,
    linear_forward,
    linear_backward,
    attention_probs_offsets,
    attention_forward,
    attention_backward,
    bias_residual_layernorm_forward,
    bias_residual_layernorm_backward,
    bias_gelu_forward,
    bias_gelu_backward,
    gelu_recompute,
};

}  // namespace simtune::SIMTUNE_ISA_NS

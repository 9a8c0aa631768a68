#include "model/kernels.h"

#include <algorithm>
#include <cmath>

namespace simtune {
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

}  // namespace

float gelu(float x) noexcept { return 0.5f * x * (1.0f + fast_erf(x * 0.70710678118654752f)); }

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

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int N, int C, float eps) noexcept {
#pragma omp parallel for schedule(static)
  for (int t = 0; t < N; t++) {
    const std::int64_t row = static_cast<std::int64_t>(t) * C;
    normalize_row(out + row, mean + t, rstd + t, inp + row, weight, bias, C, eps);
  }
}

void bias_residual_layernorm_forward(float* out, float* mean, float* rstd, float* x,
                                     const float* bias, const float* residual,
                                     const float* weight, const float* ln_bias, int N, int C,
                                     float eps) noexcept {
#pragma omp parallel for schedule(static)
  for (int t = 0; t < N; t++) {
    const std::int64_t row = static_cast<std::int64_t>(t) * C;
    float* xr = x + row;
    const float* rr = residual + row;
#pragma omp simd
    for (int i = 0; i < C; i++) xr[i] = (xr[i] + bias[i]) + rr[i];
    normalize_row(out + row, mean + t, rstd + t, xr, weight, ln_bias, C, eps);
  }
}

void bias_forward(float* x, const float* bias, int N, int OC) noexcept {
#pragma omp parallel for schedule(static)
  for (int t = 0; t < N; t++) {
    float* xr = x + static_cast<std::int64_t>(t) * OC;
#pragma omp simd
    for (int i = 0; i < OC; i++) xr[i] += bias[i];
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

std::int64_t attention_probs_offsets(std::int64_t* offsets, SeqSpans spans, int NH) noexcept {
  offsets[0] = 0;
  for (int b = 0; b < spans.B; b++) {
    const std::int64_t L = spans.offsets[b + 1] - spans.offsets[b];
    offsets[b + 1] = offsets[b] + NH * L * L;
  }
  return offsets[spans.B];
}

void attention_forward(float* ctx, float* probs, const float* qkv, SeqSpans spans,
                       const std::int64_t* probs_offsets, int NH, int C) noexcept {
  const int HS = C / NH;
  const int C3 = 3 * C;
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
  const int work = spans.B * NH;
  // One (sequence, head) pair per task; lengths differ, so hand them out dynamically.
#pragma omp parallel for schedule(dynamic, 1)
  for (int task = 0; task < work; task++) {
    const int b = task / NH;
    const int h = task % NH;
    const int start = spans.offsets[b];
    const int L = spans.offsets[b + 1] - start;
    float* P = probs + probs_offsets[b] + static_cast<std::int64_t>(h) * L * L;
    for (int i = 0; i < L; i++) {
      const float* q = qkv + static_cast<std::int64_t>(start + i) * C3 + h * HS;
      float* p = P + static_cast<std::int64_t>(i) * L;
      float maxv = -INFINITY;
      for (int j = 0; j < L; j++) {
        const float* k = qkv + static_cast<std::int64_t>(start + j) * C3 + C + h * HS;
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int d = 0; d < HS; d++) dot += q[d] * k[d];
        p[j] = dot * scale;
        maxv = std::max(maxv, p[j]);
      }
      float sum = 0.0f;
      for (int j = 0; j < L; j++) {
        p[j] = std::exp(p[j] - maxv);
        sum += p[j];
      }
      const float inv = 1.0f / sum;
      for (int j = 0; j < L; j++) p[j] *= inv;
      float* o = ctx + static_cast<std::int64_t>(start + i) * C + h * HS;
      for (int d = 0; d < HS; d++) o[d] = 0.0f;
      for (int j = 0; j < L; j++) {
        const float* v = qkv + static_cast<std::int64_t>(start + j) * C3 + 2 * C + h * HS;
        const float pj = p[j];
#pragma omp simd
        for (int d = 0; d < HS; d++) o[d] += pj * v[d];
      }
    }
  }
}

}  // namespace simtune

#include "model/pooling.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace simtune {

void pooling_forward(float* out, const float* hidden, SeqSpans spans, int C,
                     const PoolingConfig& config) noexcept {
  const int D = config.output_dimension();
#pragma omp parallel for schedule(static)
  for (int b = 0; b < spans.B; b++) {
    const int start = spans.offsets[b];
    const int L = spans.offsets[b + 1] - start;
    const float* h = hidden + static_cast<std::int64_t>(start) * C;
    float* o = out + static_cast<std::int64_t>(b) * D;
    if (config.cls_token) {
      std::copy(h, h + C, o);
      o += C;
    }
    if (config.max_tokens) {
      std::copy(h, h + C, o);
      for (int t = 1; t < L; t++) {
        const float* r = h + static_cast<std::int64_t>(t) * C;
        for (int i = 0; i < C; i++) o[i] = std::max(o[i], r[i]);
      }
      o += C;
    }
    if (config.mean_tokens || config.mean_sqrt_len_tokens) {
      // Sum once; mean and mean_sqrt_len differ only in the divisor.
      float* sum = o;
      std::fill(sum, sum + C, 0.0f);
      for (int t = 0; t < L; t++) {
        const float* r = h + static_cast<std::int64_t>(t) * C;
#pragma omp simd
        for (int i = 0; i < C; i++) sum[i] += r[i];
      }
      if (config.mean_tokens && config.mean_sqrt_len_tokens) {
        const float s = std::sqrt(static_cast<float>(L));
        for (int i = 0; i < C; i++) o[C + i] = sum[i] / s;
      }
      const float div = config.mean_tokens ? static_cast<float>(L) : std::sqrt(static_cast<float>(L));
      for (int i = 0; i < C; i++) sum[i] /= div;
      o += C * (config.mean_tokens && config.mean_sqrt_len_tokens ? 2 : 1);
    }
    if (config.weightedmean_tokens) {
      // Position weights 1..L, as sentence-transformers' arange(1, L+1).
      std::fill(o, o + C, 0.0f);
      for (int t = 0; t < L; t++) {
        const float wt = static_cast<float>(t + 1);
        const float* r = h + static_cast<std::int64_t>(t) * C;
        for (int i = 0; i < C; i++) o[i] += r[i] * wt;
      }
      const float wsum = static_cast<float>(L) * static_cast<float>(L + 1) / 2.0f;
      for (int i = 0; i < C; i++) o[i] /= wsum;
      o += C;
    }
    if (config.lasttoken) {
      const float* r = h + static_cast<std::int64_t>(L - 1) * C;
      std::copy(r, r + C, o);
    }
  }
}

void normalize_forward(float* x, int B, int D) noexcept {
#pragma omp parallel for schedule(static)
  for (int b = 0; b < B; b++) {
    float* r = x + static_cast<std::int64_t>(b) * D;
    float ss = 0.0f;
    for (int i = 0; i < D; i++) ss += r[i] * r[i];
    const float inv = 1.0f / std::max(std::sqrt(ss), 1e-12f);
    for (int i = 0; i < D; i++) r[i] *= inv;
  }
}

}  // namespace simtune

#include "simtune/model/pooling.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace simtune {

void pooling_forward(float* out, const float* hidden, SeqSpans spans, int C,
                     const PoolingConfig& config, int skip) noexcept {
  const int D = config.output_dimension();
#pragma omp parallel for schedule(static)
  for (int b = 0; b < spans.B; b++) {
    const int start = spans.offsets[b];
    const int L = spans.offsets[b + 1] - start;
    // Tokens [s, L) are pooled; sentence-transformers 6 masks the prompt's off, and a sequence
    // the prompt fills entirely pools the library's values for an all-masked row.
    const int s = std::min(skip, L);
    const float* h = hidden + static_cast<std::int64_t>(start) * C;
    float* o = out + static_cast<std::int64_t>(b) * D;
    auto row = [&](int t) { return h + static_cast<std::int64_t>(t) * C; };
    if (config.cls_token) {
      // The first pooled token (the library takes the mask's first 1, or row 0 when none).
      const float* r = row(s < L ? s : 0);
      std::copy(r, r + C, o);
      o += C;
    }
    if (config.max_tokens) {
      std::fill(o, o + C, -std::numeric_limits<float>::infinity());
      for (int t = s; t < L; t++) {
        const float* r = row(t);
        for (int i = 0; i < C; i++) o[i] = std::max(o[i], r[i]);
      }
      o += C;
    }
    if (config.mean_tokens || config.mean_sqrt_len_tokens) {
      // Sum once; mean and mean_sqrt_len differ only in the divisor, the count clamped at 1e-9.
      float* sum = o;
      std::fill(sum, sum + C, 0.0f);
      for (int t = s; t < L; t++) {
        const float* r = row(t);
#pragma omp simd
        for (int i = 0; i < C; i++) sum[i] += r[i];
      }
      const float count = std::max(static_cast<float>(L - s), 1e-9f);
      if (config.mean_tokens && config.mean_sqrt_len_tokens) {
        const float root = std::sqrt(count);
        for (int i = 0; i < C; i++) o[C + i] = sum[i] / root;
      }
      const float div = config.mean_tokens ? count : std::sqrt(count);
      for (int i = 0; i < C; i++) sum[i] /= div;
      o += C * (config.mean_tokens && config.mean_sqrt_len_tokens ? 2 : 1);
    }
    if (config.weightedmean_tokens) {
      // Position weights 1..L, as sentence-transformers' arange(1, L+1).
      std::fill(o, o + C, 0.0f);
      for (int t = s; t < L; t++) {
        const float wt = static_cast<float>(t + 1);
        const float* r = row(t);
        for (int i = 0; i < C; i++) o[i] += r[i] * wt;
      }
      const float wsum = static_cast<float>(L) * static_cast<float>(L + 1) / 2.0f -
                         static_cast<float>(s) * static_cast<float>(s + 1) / 2.0f;
      const float div = std::max(wsum, 1e-9f);
      for (int i = 0; i < C; i++) o[i] /= div;
      o += C;
    }
    if (config.lasttoken) {
      if (s < L) {
        const float* r = row(L - 1);
        std::copy(r, r + C, o);
      } else {
        std::fill(o, o + C, 0.0f);
      }
    }
  }
}

void pooling_backward(float* dhidden, const float* dout, const float* hidden, SeqSpans spans, int C,
                      const PoolingConfig& config) noexcept {
  const int D = config.output_dimension();
#pragma omp parallel for schedule(static)
  for (int b = 0; b < spans.B; b++) {
    const int start = spans.offsets[b];
    const int L = spans.offsets[b + 1] - start;
    const float* h = hidden + static_cast<std::int64_t>(start) * C;
    float* dh = dhidden + static_cast<std::int64_t>(start) * C;
    const float* d = dout + static_cast<std::int64_t>(b) * D;
    auto row = [C](auto* base, int t) { return base + static_cast<std::int64_t>(t) * C; };
    if (config.cls_token) {
      for (int i = 0; i < C; i++) dh[i] += d[i];
      d += C;
    }
    if (config.max_tokens) {
      for (int i = 0; i < C; i++) {
        int arg = 0;
        for (int t = 1; t < L; t++) {
          if (row(h, t)[i] > row(h, arg)[i]) arg = t;
        }
        row(dh, arg)[i] += d[i];
      }
      d += C;
    }
    if (config.mean_tokens) {
      const float w = 1.0f / static_cast<float>(L);
      for (int t = 0; t < L; t++) {
        for (int i = 0; i < C; i++) row(dh, t)[i] += d[i] * w;
      }
      d += C;
    }
    if (config.mean_sqrt_len_tokens) {
      const float w = 1.0f / std::sqrt(static_cast<float>(L));
      for (int t = 0; t < L; t++) {
        for (int i = 0; i < C; i++) row(dh, t)[i] += d[i] * w;
      }
      d += C;
    }
    if (config.weightedmean_tokens) {
      const float wsum = static_cast<float>(L) * static_cast<float>(L + 1) / 2.0f;
      for (int t = 0; t < L; t++) {
        const float w = static_cast<float>(t + 1) / wsum;
        for (int i = 0; i < C; i++) row(dh, t)[i] += d[i] * w;
      }
      d += C;
    }
    if (config.lasttoken) {
      for (int i = 0; i < C; i++) row(dh, L - 1)[i] += d[i];
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

namespace simtune {

void normalize_backward(float* dx, const float* dy, const float* x, int B, int D) noexcept {
#pragma omp parallel for schedule(static)
  for (int b = 0; b < B; b++) {
    const float* xr = x + static_cast<std::int64_t>(b) * D;
    const float* g = dy + static_cast<std::int64_t>(b) * D;
    float* o = dx + static_cast<std::int64_t>(b) * D;
    float ss = 0.0f, xg = 0.0f;
    for (int i = 0; i < D; i++) {
      ss += xr[i] * xr[i];
      xg += xr[i] * g[i];
    }
    const float norm = std::sqrt(ss);
    if (norm <= 1e-12f) {
      // Below the clamp the map is x / 1e-12, a plain scaling.
      for (int i = 0; i < D; i++) o[i] += g[i] / 1e-12f;
      continue;
    }
    // y = x/n: dx = (dy - y (y . dy)) / n.
    const float inv = 1.0f / norm;
    for (int i = 0; i < D; i++) o[i] += (g[i] - xr[i] * inv * inv * xg) * inv;
  }
}

}  // namespace simtune

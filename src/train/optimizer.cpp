#include "train/optimizer.h"

#include <algorithm>
#include <cmath>

namespace simtune {
namespace {

bool decays(const std::string& name) {
  return name.find("bias") == std::string::npos &&
         name.find("LayerNorm.weight") == std::string::npos;
}

}  // namespace

AdamW::AdamW(const ParamLayout& layout, AdamWConfig config)
    : config_(config), m_(layout.total), v_(layout.total) {
  for (const auto& t : layout.tensors) {
    const bool decay = decays(t.name);
    if (!spans_.empty() && spans_.back().decay == decay && spans_.back().end == t.offset) {
      spans_.back().end = t.offset + t.numel;
    } else {
      spans_.push_back({t.offset, t.offset + t.numel, decay});
    }
  }
}

void AdamW::step(float* params, const Gradients& gradients, float lr, float grad_scale) noexcept {
  const float* grads = gradients.data();
  const SparseRows& rows = gradients.rows();
  t_++;
  const float b1 = config_.beta1, b2 = config_.beta2, eps = config_.eps;
  // The same operations, in the same order, as torch 1.13's single-tensor AdamW.
  const float bc1 = 1.0f - static_cast<float>(std::pow(static_cast<double>(b1), t_));
  const float bc2 = 1.0f - static_cast<float>(std::pow(static_cast<double>(b2), t_));
  const float step_size = lr / bc1;
  const float bc2_sqrt = std::sqrt(bc2);
  float* m = m_.data();
  float* v = v_.data();
  auto update = [&](std::int64_t begin, std::int64_t end, float keep) {
#pragma omp simd
    for (std::int64_t i = begin; i < end; i++) {
      const float g = grads[i] * grad_scale;
      params[i] *= keep;
      m[i] = m[i] * b1 + g * (1.0f - b1);
      v[i] = v[i] * b2 + (1.0f - b2) * g * g;
      const float denom = std::sqrt(v[i]) / bc2_sqrt + eps;
      params[i] += -step_size * (m[i] / denom);
    }
  };
  const auto emb_begin = static_cast<std::int64_t>(rows.offset);
  const auto emb_end = static_cast<std::int64_t>(rows.end());
  const auto width = static_cast<std::int64_t>(rows.width);
  for (const Span& s : spans_) {
    const float keep = s.decay ? 1.0f - lr * config_.weight_decay : 1.0f;
    const auto begin = static_cast<std::int64_t>(s.begin), end = static_cast<std::int64_t>(s.end);
    constexpr std::int64_t kChunk = 4096;
#pragma omp parallel for schedule(static)
    for (std::int64_t c = begin; c < end; c += kChunk) {
      const std::int64_t c_end = std::min(end, c + kChunk);
      if (c_end <= emb_begin || c >= emb_end) {
        update(c, c_end, keep);
        continue;
      }
      // Embedding rows: full update for rows hit before, decay for the rest.
      for (std::int64_t i = c; i < c_end;) {
        if (i < emb_begin || i >= emb_end) {
          const std::int64_t stop = i < emb_begin ? std::min(c_end, emb_begin) : c_end;
          update(i, stop, keep);
          i = stop;
          continue;
        }
        const std::int64_t r = (i - emb_begin) / width;
        const std::int64_t stop = std::min(c_end, emb_begin + (r + 1) * width);
        if (rows.seen[static_cast<std::size_t>(r)]) {
          update(i, stop, keep);
        } else {
          for (std::int64_t k = i; k < stop; k++) params[k] *= keep;
        }
        i = stop;
      }
    }
  }
}

double grad_norm(const Gradients& gradients) noexcept {
  const float* grads = gradients.data();
  const SparseRows& rows = gradients.rows();
  double sq = 0.0;
  for (const FloatRange& range : gradients.dense_ranges()) {
    const std::size_t b = range.begin, e = range.end;
#pragma omp parallel for simd reduction(+ : sq) schedule(static)
    for (std::size_t i = b; i < e; i++) sq += static_cast<double>(grads[i]) * grads[i];
  }
  for (std::int32_t r : rows.batch) {
    const float* g = grads + rows.offset + static_cast<std::size_t>(r) * rows.width;
    for (std::size_t i = 0; i < rows.width; i++) sq += static_cast<double>(g[i]) * g[i];
  }
  return std::sqrt(sq);
}

float clip_scale(double norm, double max_norm) noexcept {
  const double coef = max_norm / (norm + 1e-6);
  return coef < 1.0 ? static_cast<float>(coef) : 1.0f;
}

double LinearWarmup::at(std::int64_t step) const noexcept {
  if (step < warmup)
    return static_cast<double>(step) / static_cast<double>(std::max<std::int64_t>(1, warmup));
  return std::max(0.0, static_cast<double>(total - step) /
                           static_cast<double>(std::max<std::int64_t>(1, total - warmup)));
}

}  // namespace simtune

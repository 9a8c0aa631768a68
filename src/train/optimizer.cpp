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
    : config_(config), m_(layout.total, 0.0f), v_(layout.total, 0.0f) {
  for (const auto& t : layout.tensors) {
    const bool decay = decays(t.name);
    if (!spans_.empty() && spans_.back().decay == decay && spans_.back().end == t.offset) {
      spans_.back().end = t.offset + t.numel;
    } else {
      spans_.push_back({t.offset, t.offset + t.numel, decay});
    }
  }
}

void AdamW::step(float* params, const float* grads, float lr) noexcept {
  t_++;
  const float b1 = config_.beta1, b2 = config_.beta2, eps = config_.eps;
  // The same operations, in the same order, as torch 1.13's single-tensor AdamW.
  const float bc1 = 1.0f - static_cast<float>(std::pow(static_cast<double>(b1), t_));
  const float bc2 = 1.0f - static_cast<float>(std::pow(static_cast<double>(b2), t_));
  const float step_size = lr / bc1;
  const float bc2_sqrt = std::sqrt(bc2);
  for (const Span& s : spans_) {
    const float keep = s.decay ? 1.0f - lr * config_.weight_decay : 1.0f;
    const std::int64_t begin = static_cast<std::int64_t>(s.begin),
                       end = static_cast<std::int64_t>(s.end);
#pragma omp parallel for simd schedule(static)
    for (std::int64_t i = begin; i < end; i++) {
      const float g = grads[i];
      params[i] *= keep;
      m_[i] = m_[i] * b1 + g * (1.0f - b1);
      v_[i] = v_[i] * b2 + (1.0f - b2) * g * g;
      const float denom = std::sqrt(v_[i]) / bc2_sqrt + eps;
      params[i] += -step_size * (m_[i] / denom);
    }
  }
}

double clip_grad_norm(float* grads, std::size_t n, double max_norm) noexcept {
  double sq = 0.0;
  const std::int64_t count = static_cast<std::int64_t>(n);
#pragma omp parallel for simd reduction(+ : sq) schedule(static)
  for (std::int64_t i = 0; i < count; i++) sq += static_cast<double>(grads[i]) * grads[i];
  const double norm = std::sqrt(sq);
  // torch adds 1e-6 to the norm and only ever scales down.
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0) {
    const float c = static_cast<float>(coef);
#pragma omp parallel for simd schedule(static)
    for (std::int64_t i = 0; i < count; i++) grads[i] *= c;
  }
  return norm;
}

double warmup_linear(std::int64_t step, std::int64_t warmup, std::int64_t total) noexcept {
  if (step < warmup)
    return static_cast<double>(step) / static_cast<double>(std::max<std::int64_t>(1, warmup));
  return std::max(0.0, static_cast<double>(total - step) /
                           static_cast<double>(std::max<std::int64_t>(1, total - warmup)));
}

}  // namespace simtune

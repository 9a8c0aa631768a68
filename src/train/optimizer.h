// torch.optim.AdamW over the flat parameter buffer, gradient-norm clipping as
// torch.nn.utils.clip_grad_norm_, and transformers' linear warmup/decay schedule.
#pragma once

#include <cstdint>
#include <vector>

#include "model/params.h"

namespace simtune {

struct AdamWConfig {
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.01f;
};

class AdamW {
 public:
  // Weight decay applies to every tensor except biases and LayerNorm weights (the no_decay list
  // of sentence-transformers' fit: "bias", "LayerNorm.bias", "LayerNorm.weight").
  AdamW(const ParamLayout& layout, AdamWConfig config);

  // One update of params (layout.total) from grads at learning rate lr.
  void step(float* params, const float* grads, float lr) noexcept;

  std::int64_t steps() const { return t_; }
  // Moments and step count, for checkpoints.
  std::vector<float>& m() { return m_; }
  std::vector<float>& v() { return v_; }
  const std::vector<float>& m() const { return m_; }
  const std::vector<float>& v() const { return v_; }
  void set_steps(std::int64_t t) { t_ = t; }

 private:
  struct Span {
    std::size_t begin, end;
    bool decay;
  };
  AdamWConfig config_;
  std::vector<Span> spans_;
  std::vector<float> m_, v_;
  std::int64_t t_ = 0;
};

// Scales grads so their global L2 norm is at most max_norm; returns the norm before clipping.
double clip_grad_norm(float* grads, std::size_t n, double max_norm) noexcept;

// get_linear_schedule_with_warmup's multiplier for optimizer step `step` (0-based): linear
// 0 -> 1 over `warmup` steps, then linear 1 -> 0 at `total`.
double warmup_linear(std::int64_t step, std::int64_t warmup, std::int64_t total) noexcept;

}  // namespace simtune

// torch.optim.AdamW over the flat parameter buffer, gradient-norm clipping as
// torch.nn.utils.clip_grad_norm_, and transformers' linear warmup/decay schedule.
#pragma once

#include <cstdint>
#include <vector>

#include "simtune/core/zeroed_floats.h"
#include "simtune/model/params.h"
#include "train/gradients.h"

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

  // One update of params (layout.total) from grads at learning rate lr. Sparse rows no batch
  // has hit have zero gradient and moments, so the update leaves their moments zero and moves
  // them by weight decay alone: that is all it computes for them.
  // The gradients enter multiplied by grad_scale (clip_scale's), so clipping costs no pass of
  // its own over them.
  // Leaves every gradient it reads zero, the dense ranges and the batch's rows
  // (Gradients::zeroed_by_step).
  void step(float* params, Gradients& grads, float lr, float grad_scale = 1.0f) noexcept;

  std::int64_t steps() const { return t_; }
  // Moments and step count, for checkpoints.
  float* m() { return m_.data(); }
  float* v() { return v_.data(); }
  const float* m() const { return m_.data(); }
  const float* v() const { return v_.data(); }
  void set_steps(std::int64_t t) { t_ = t; }

 private:
  // A piece of the parameters with one weight-decay setting. Every parameter is in one chunk of
  // at most a few thousand floats, so a single parallel loop covers the whole update: one loop
  // per tensor group woke the threads some 50 times a step, mostly for a bias each.
  struct Chunk {
    std::size_t begin, end;
    bool decay;
  };
  AdamWConfig config_;
  std::vector<Chunk> chunks_;
  ZeroedFloats m_, v_;
  std::int64_t t_ = 0;
};

// The gradients' global L2 norm, in double. Of the sparse matrix only the current batch's rows are
// read (the others are zero).
double grad_norm(const Gradients& grads) noexcept;
// torch.nn.utils.clip_grad_norm_'s factor for gradients of that norm: max_norm / (norm + 1e-6)
// when that is below 1, else 1 (it only ever scales down).
float clip_scale(double norm, double max_norm) noexcept;

// transformers' get_linear_schedule_with_warmup.
struct LinearWarmup {
  std::int64_t warmup = 0;
  std::int64_t total = 0;
  // The multiplier of the peak learning rate at optimizer step `step` (0-based): linear 0 -> 1
  // over `warmup` steps, then linear 1 -> 0 at `total`.
  double at(std::int64_t step) const noexcept;
};

}  // namespace simtune

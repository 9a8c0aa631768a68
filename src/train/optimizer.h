// torch.optim.AdamW over the flat parameter buffer, gradient-norm clipping as
// torch.nn.utils.clip_grad_norm_, and transformers' linear warmup/decay schedule.
#pragma once

#include <cstdint>
#include <vector>

#include "simtune/core/zeroed_floats.h"
#include "simtune/model/params.h"

namespace simtune {

// The word-embedding matrix inside the flat buffers, and which of its rows tokens have hit: a
// batch touches a few hundred of its 30,522 rows, and the rest have zero gradients. Gradient
// clipping and AdamW read only rows some batch hit, so the others' gradients and moments are
// never touched and cost no memory (ZeroedFloats).
struct EmbeddingRows {
  std::size_t offset = 0;           // first float of the matrix
  std::size_t width = 0;            // floats per row
  std::vector<std::int32_t> batch;  // rows the current batch hit, ascending
  std::vector<std::uint8_t> seen;   // 1 for rows any batch so far has hit

  EmbeddingRows(const ParamTensor& matrix);
  // Records the rows of a batch's token ids (each vector one sequence).
  void set_batch(const std::vector<const std::vector<std::int32_t>*>& a,
                 const std::vector<const std::vector<std::int32_t>*>& b);
  // After a resume: rows whose loaded moments are not zero were hit before.
  void mark_rows_with_moments(const float* m, const float* v);
  std::size_t end() const { return offset + seen.size() * width; }
};

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

  // One update of params (layout.total) from grads at learning rate lr. Embedding rows no batch
  // has hit have zero gradient and moments, so the update leaves their moments zero and moves
  // them by weight decay alone: that is all it computes for them.
  void step(float* params, const float* grads, float lr, const EmbeddingRows& rows) noexcept;

  std::int64_t steps() const { return t_; }
  // Moments and step count, for checkpoints.
  float* m() { return m_.data(); }
  float* v() { return v_.data(); }
  const float* m() const { return m_.data(); }
  const float* v() const { return v_.data(); }
  void set_steps(std::int64_t t) { t_ = t; }

 private:
  struct Span {
    std::size_t begin, end;
    bool decay;
  };
  AdamWConfig config_;
  std::vector<Span> spans_;
  ZeroedFloats m_, v_;
  std::int64_t t_ = 0;
};

// Scales grads so their global L2 norm is at most max_norm; returns the norm before clipping.
// Of the embedding matrix only the current batch's rows are read (the others are zero).
double clip_grad_norm(float* grads, std::size_t n, double max_norm,
                      const EmbeddingRows& rows) noexcept;

// get_linear_schedule_with_warmup's multiplier for optimizer step `step` (0-based): linear
// 0 -> 1 over `warmup` steps, then linear 1 -> 0 at `total`.
double warmup_linear(std::int64_t step, std::int64_t warmup, std::int64_t total) noexcept;

}  // namespace simtune

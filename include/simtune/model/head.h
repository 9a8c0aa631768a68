// The modules after the transformer, on one row per sentence: Pooling, each Dense module, then
// Normalize. Encoding and training both run them through here.
#pragma once

#include <vector>

#include "simtune/io/model_files.h"
#include "simtune/model/dense.h"
#include "simtune/model/kernels.h"

namespace simtune {

class SentenceHead {
 public:
  explicit SentenceHead(const ModelFiles& files);

  // Embeddings (spans.B, dimension()) of the sequences of hidden (N, C); they live until the next
  // forward, and so does what backward needs. prompt_length: the tokens of a prompt each
  // sequence starts with ([CLS] included), left out of pooling when the Pooling module says
  // include_prompt=false; 0 for none. normalize: L2-normalise the result (files.normalize, or
  // the caller's wish).
  const float* forward(const float* hidden, SeqSpans spans, const std::vector<DenseWeights>& dense,
                       int prompt_length, bool normalize);
  // dhidden (N, C) += the gradient of the last forward (without a prompt) given d_embeddings
  // (spans.B, dimension()); grads (views of the gradient buffer) += the Dense modules'.
  void backward(float* dhidden, const float* d_embeddings, const float* hidden, SeqSpans spans,
                const std::vector<DenseWeights>& grads, const std::vector<DenseWeights>& weights);

  int dimension() const { return dimension_; }

 private:
  const PoolingConfig pooling_;
  const std::vector<DenseConfig> dense_;
  const int C_;
  const int dimension_;
  bool normalized_ = false;  // whether the last forward normalised
  // For the last forward: outs_[0] pooled, outs_[k + 1] Dense k's output; pres_[k] Dense k's
  // pre-activation; normed_ the normalised embeddings. Grown to the largest batch seen.
  std::vector<std::vector<float>> outs_, pres_;
  std::vector<float> normed_, grad_, grad_next_, dpre_;
};

}  // namespace simtune

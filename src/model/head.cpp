#include "simtune/model/head.h"

#include <algorithm>
#include <cstdint>

#include "simtune/model/pooling.h"

namespace simtune {
namespace {

// v holds at least n floats, the first n zero.
float* zeroed(std::vector<float>& v, std::size_t n) {
  if (v.size() < n) v.resize(n);
  std::fill_n(v.begin(), n, 0.0f);
  return v.data();
}

float* sized(std::vector<float>& v, std::size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

}  // namespace

SentenceHead::SentenceHead(const ModelFiles& files)
    : pooling_(files.pooling),
      dense_(files.dense),
      C_(files.bert.hidden_size),
      dimension_(files.embedding_dimension()),
      outs_(files.dense.size() + 1),
      pres_(files.dense.size()) {}

const float* SentenceHead::forward(const float* hidden, SeqSpans spans,
                                   const std::vector<DenseWeights>& dense, int prompt_length,
                                   bool normalize) {
  const auto B = static_cast<std::size_t>(spans.B);
  float* x = sized(outs_[0], B * static_cast<std::size_t>(pooling_.output_dimension()));
  pooling_forward(x, hidden, spans, C_, pooling_, pooling_.include_prompt ? 0 : prompt_length);
  for (std::size_t k = 0; k < dense_.size(); k++) {
    const std::size_t n = B * static_cast<std::size_t>(dense_[k].out_features);
    float* y = sized(outs_[k + 1], n);
    dense_forward(y, sized(pres_[k], n), x, dense[k], dense_[k], spans.B);
    x = y;
  }
  normalized_ = normalize;
  if (!normalize) return x;
  float* normed = sized(normed_, B * static_cast<std::size_t>(dimension_));
  std::copy_n(x, B * static_cast<std::size_t>(dimension_), normed);
  normalize_forward(normed, spans.B, dimension_);
  return normed;
}

void SentenceHead::backward(float* dhidden, const float* d_embeddings, const float* hidden,
                            SeqSpans spans, const std::vector<DenseWeights>& grads,
                            const std::vector<DenseWeights>& weights) {
  const auto B = static_cast<std::size_t>(spans.B);
  const float* d = d_embeddings;
  if (normalized_) {
    float* g = zeroed(grad_, B * static_cast<std::size_t>(dimension_));
    normalize_backward(g, d, outs_.back().data(), spans.B, dimension_);
    d = g;
  }
  for (std::size_t k = dense_.size(); k-- > 0;) {
    const DenseConfig& c = dense_[k];
    float* dx = sized(grad_next_, B * static_cast<std::size_t>(c.in_features));
    dense_backward(dx, grads[k], sized(dpre_, B * static_cast<std::size_t>(c.out_features)), d,
                   pres_[k].data(), outs_[k].data(), weights[k], c, spans.B);
    std::swap(grad_, grad_next_);
    d = grad_.data();
  }
  pooling_backward(dhidden, d, hidden, spans, C_, pooling_);
}

}  // namespace simtune

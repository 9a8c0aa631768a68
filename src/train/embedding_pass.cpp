#include "train/embedding_pass.h"

#include <algorithm>

#include "simtune/core/check.h"

namespace simtune {
namespace {

void fill_zero(std::vector<float>& v, std::size_t n) {
  if (v.size() < n) v.resize(n);
  std::fill_n(v.begin(), n, 0.0f);
}

}  // namespace

EmbeddingPass::EmbeddingPass(const ModelFiles& files, Dropout dropout)
    : config_(files.bert),
      normalize_(files.normalize),
      head_(files),
      acts_(files.bert, true, dropout),
      act_grads_(files.bert) {}

const float* EmbeddingPass::forward(const std::vector<const TokenIds*>& texts,
                                    const BertWeights& weights, Rng* rng) {
  SIMTUNE_CHECK(!texts.empty());
  batch_.clear();
  for (const TokenIds* ids : texts) batch_.add(*ids);
  // The weights change with every update, so the products read them in place.
  if (!packed_) packed_ = PackedWeights::in_place(config_);
  hidden_ = bert_forward(acts_, batch_, weights, *packed_, config_, rng);
  return head_.forward(hidden_, batch_.spans(), weights.dense, 0, normalize_);
}

float* EmbeddingPass::zeroed_d_embeddings() {
  fill_zero(d_embeddings_, static_cast<std::size_t>(batch_.sequences()) * dimension());
  return d_embeddings_.data();
}

void EmbeddingPass::backward(const BertWeights& grads, const BertWeights& weights,
                             const LayerDone* layer_done) {
  fill_zero(dhidden_, static_cast<std::size_t>(batch_.tokens()) * config_.hidden_size);
  head_.backward(dhidden_.data(), d_embeddings_.data(), hidden_, batch_.spans(), grads.dense,
                 weights.dense);
  bert_backward(grads, act_grads_, dhidden_.data(), acts_, batch_, weights, config_, layer_done);
}

}  // namespace simtune

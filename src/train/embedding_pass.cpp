#include "train/embedding_pass.h"

#include <algorithm>

#include "simtune/core/check.h"
#include "simtune/model/pooling.h"

namespace simtune {
namespace {

void fill_zero(std::vector<float>& v, std::size_t n) {
  if (v.size() < n) v.resize(n);
  std::fill_n(v.begin(), n, 0.0f);
}

}  // namespace

EmbeddingPass::EmbeddingPass(const ModelFiles& files, Dropout dropout)
    : config_(files.bert),
      pooling_(files.pooling),
      normalize_(files.normalize),
      acts_(files.bert, true, dropout),
      act_grads_(files.bert) {}

const float* EmbeddingPass::forward(const std::vector<const TokenIds*>& texts,
                                    const BertWeights& weights, Rng* rng) {
  SIMTUNE_CHECK(!texts.empty());
  const std::size_t n = static_cast<std::size_t>(texts.size()) * dimension();
  batch_.clear();
  for (const TokenIds* ids : texts) batch_.add(*ids);
  // The weights change with every update, so the products read them repacked layer by layer.
  if (!packed_) packed_ = PackedWeights::one_slot(weights, config_);
  hidden_ = bert_forward(acts_, batch_, weights, *packed_, config_, rng);
  fill_zero(pooled_, n);
  pooling_forward(pooled_.data(), hidden_, batch_.spans(), config_.hidden_size, pooling_);
  if (!normalize_) return pooled_.data();
  normed_.assign(pooled_.begin(), pooled_.begin() + static_cast<std::ptrdiff_t>(n));
  normalize_forward(normed_.data(), batch_.sequences(), dimension());
  return normed_.data();
}

float* EmbeddingPass::zeroed_d_embeddings() {
  fill_zero(dnormed_, static_cast<std::size_t>(batch_.sequences()) * dimension());
  return dnormed_.data();
}

void EmbeddingPass::backward(const BertWeights& grads, const BertWeights& weights) {
  const int n = batch_.sequences();
  const float* demb = dnormed_.data();
  if (normalize_) {
    fill_zero(dpooled_, static_cast<std::size_t>(n) * dimension());
    normalize_backward(dpooled_.data(), dnormed_.data(), pooled_.data(), n, dimension());
    demb = dpooled_.data();
  }
  fill_zero(dhidden_, static_cast<std::size_t>(batch_.tokens()) * config_.hidden_size);
  pooling_backward(dhidden_.data(), demb, hidden_, batch_.spans(), config_.hidden_size, pooling_);
  bert_backward(grads, act_grads_, dhidden_.data(), acts_, batch_, weights, config_);
}

}  // namespace simtune

#include "train/pair_loss.h"

#include <algorithm>

#include "simtune/core/check.h"
#include "simtune/model/pooling.h"
#include "train/loss.h"

namespace simtune {
namespace {

void fill_zero(std::vector<float>& v, std::size_t n) {
  if (v.size() < n) v.resize(n);
  std::fill_n(v.begin(), n, 0.0f);
}

}  // namespace

PairLoss::PairLoss(const ModelFiles& files, Dropout dropout)
    : config_(files.bert),
      pooling_(files.pooling),
      normalize_(files.normalize),
      acts_(files.bert, true, dropout),
      act_grads_(files.bert) {}

float PairLoss::forward_backward(const std::vector<const std::vector<std::int32_t>*>& a,
                                 const std::vector<const std::vector<std::int32_t>*>& b,
                                 const std::vector<float>& labels, const BertWeights& weights,
                                 const BertWeights& grads, Rng* rng) {
  SIMTUNE_CHECK(a.size() == b.size() && a.size() == labels.size() && !a.empty());
  const int B = static_cast<int>(a.size());
  const int C = config_.hidden_size;
  const int D = pooling_.output_dimension();
  const std::size_t BD = static_cast<std::size_t>(2 * B) * D;

  batch_.clear();
  for (const auto* ids : a) batch_.add(*ids);
  for (const auto* ids : b) batch_.add(*ids);
  const float* hidden = bert_forward(acts_, batch_, weights, config_, rng);
  fill_zero(pooled_, BD);
  pooling_forward(pooled_.data(), hidden, batch_.spans(), C, pooling_);
  const float* emb = pooled_.data();
  if (normalize_) {
    normed_.assign(pooled_.begin(), pooled_.begin() + static_cast<std::ptrdiff_t>(BD));
    normalize_forward(normed_.data(), 2 * B, D);
    emb = normed_.data();
  }
  cos_.resize(static_cast<std::size_t>(B));
  const float loss = cosine_similarity_loss_forward(
      cos_.data(), emb, emb + static_cast<std::size_t>(B) * D, labels.data(), B, D);

  fill_zero(dnormed_, BD);
  cosine_similarity_loss_backward(
      dnormed_.data(), dnormed_.data() + static_cast<std::size_t>(B) * D, emb,
      emb + static_cast<std::size_t>(B) * D, cos_.data(), labels.data(), B, D);
  const float* demb = dnormed_.data();
  if (normalize_) {
    fill_zero(dpooled_, BD);
    normalize_backward(dpooled_.data(), dnormed_.data(), pooled_.data(), 2 * B, D);
    demb = dpooled_.data();
  }
  fill_zero(dhidden_, static_cast<std::size_t>(batch_.tokens()) * C);
  pooling_backward(dhidden_.data(), demb, hidden, batch_.spans(), C, pooling_);
  bert_backward(grads, act_grads_, dhidden_.data(), acts_, batch_, weights, config_);
  return loss;
}

}  // namespace simtune

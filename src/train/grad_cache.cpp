#include "train/grad_cache.h"

#include <algorithm>

namespace simtune {

const std::vector<const TokenIds*>& GradCache::mini_batch(const Batch& batch, std::size_t begin) {
  const std::size_t end = std::min(batch.texts.size(), begin + mini_batch_size_);
  mini_.assign(batch.texts.begin() + static_cast<std::ptrdiff_t>(begin),
               batch.texts.begin() + static_cast<std::ptrdiff_t>(end));
  return mini_;
}

float GradCache::forward_backward(EmbeddingPass& model, Loss& loss, const Batch& batch,
                                  const BertWeights& weights, const BertWeights& grads, Rng* rng,
                                  EmbeddingGather* gather) {
  const std::size_t D = static_cast<std::size_t>(model.dimension());
  const std::size_t texts = batch.texts.size();
  embeddings_.resize(texts * D);
  rng_states_.clear();
  for (std::size_t begin = 0; begin < texts; begin += mini_batch_size_) {
    if (rng != nullptr) rng_states_.push_back(*rng);
    const std::vector<const TokenIds*>& mini = mini_batch(batch, begin);
    const float* emb = model.forward(mini, weights, rng);
    std::copy_n(emb, mini.size() * D, embeddings_.begin() + static_cast<std::ptrdiff_t>(begin * D));
  }
  d_embeddings_.assign(texts * D, 0.0f);
  const float value =
      share_loss(loss, gather, d_embeddings_.data(), embeddings_.data(), batch, model.dimension());
  for (std::size_t begin = 0, k = 0; begin < texts; begin += mini_batch_size_, k++) {
    Rng replay = rng != nullptr ? rng_states_[k] : Rng(0);
    const std::vector<const TokenIds*>& mini = mini_batch(batch, begin);
    model.forward(mini, weights, rng != nullptr ? &replay : nullptr);
    std::copy_n(d_embeddings_.begin() + static_cast<std::ptrdiff_t>(begin * D), mini.size() * D,
                model.zeroed_d_embeddings());
    model.backward(grads, weights);
  }
  return value;
}

}  // namespace simtune

#include "train/embedding_gather.h"

#include <algorithm>
#include <span>

namespace simtune {

float EmbeddingGather::forward_backward(Loss& loss, float* d_emb, const float* emb,
                                        const Batch& batch, int D) {
  const std::size_t mine = static_cast<std::size_t>(batch.size());
  const std::size_t columns = static_cast<std::size_t>(batch.columns);
  const std::size_t width = static_cast<std::size_t>(D);
  group_.all_counts(mine, examples_);
  counts_.resize(examples_.size());
  for (std::size_t r = 0; r < examples_.size(); r++) counts_[r] = examples_[r] * columns * width;
  group_.all_gather(std::span<const float>(emb, mine * columns * width), counts_, gathered_);
  group_.all_gather(std::span<const float>(batch.labels), examples_, labels_);

  // Rank r's block holds its columns one after another; the global batch holds, per column,
  // every rank's rows in rank order (TrainBatches' layout of the whole batch).
  std::size_t total = 0;
  for (const std::size_t n : examples_) total += n;
  global_.resize(total * columns * width);
  std::size_t block = 0, first = 0, my_first = 0;
  for (std::size_t r = 0; r < examples_.size(); r++) {
    if (static_cast<int>(r) == group_.rank()) my_first = first;
    for (std::size_t c = 0; c < columns; c++) {
      std::copy_n(gathered_.data() + block + c * examples_[r] * width, examples_[r] * width,
                  global_.data() + (c * total + first) * width);
    }
    block += examples_[r] * columns * width;
    first += examples_[r];
  }
  d_global_.assign(global_.size(), 0.0f);
  const float value = loss.forward_backward(d_global_.data(), global_.data(), labels_.data(),
                                            static_cast<int>(total), D);
  for (std::size_t c = 0; c < columns; c++) {
    const float* from = d_global_.data() + (c * total + my_first) * width;
    float* to = d_emb + c * mine * width;
    for (std::size_t i = 0; i < mine * width; i++) to[i] += from[i];
  }
  return value * batch.weight;
}

float share_loss(Loss& loss, EmbeddingGather* gather, float* d_emb, const float* emb,
                 const Batch& batch, int D) {
  float value = 0.0f;
  if (gather != nullptr) {
    value = gather->forward_backward(loss, d_emb, emb, batch, D);
  } else {
    if (batch.size() == 0) return 0.0f;
    value = loss.forward_backward(d_emb, emb, batch.labels.data(), batch.size(), D) * batch.weight;
    if (batch.weight != 1.0f) {
      const std::size_t n = batch.texts.size() * static_cast<std::size_t>(D);
      for (std::size_t i = 0; i < n; i++) d_emb[i] *= batch.weight;
    }
  }
  // The loss's own parameters (SoftmaxLoss's classifier) got the gradient of this share, or of
  // the whole gathered batch on every rank: weighted alike, the ranks' sum is the batch's.
  if (batch.weight != 1.0f) loss.scale_parameter_gradients(batch.weight);
  return value;
}

}  // namespace simtune

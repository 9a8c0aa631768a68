// One training computation: a batch of (a, b, label) pairs through BERT, pooling (and Normalize)
// and CosineSimilarityLoss, forward and backward. The trainer orchestrates; this computes.
#pragma once

#include <cstdint>
#include <vector>

#include "simtune/io/model_files.h"
#include "simtune/model/bert.h"
#include "simtune/model/params.h"

namespace simtune {

class PairLoss {
 public:
  PairLoss(const ModelFiles& files, Dropout dropout);

  // Packs side a then side b of the batch into one forward pass (packing makes the two passes
  // sentence-transformers runs one), returns the loss and accumulates parameter gradients into
  // `grads` (a view of the gradient buffer). `rng` draws dropout masks when dropout is on.
  float forward_backward(const std::vector<const std::vector<std::int32_t>*>& a,
                         const std::vector<const std::vector<std::int32_t>*>& b,
                         const std::vector<float>& labels, const BertWeights& weights,
                         const BertWeights& grads, Rng* rng);

 private:
  const BertConfig config_;
  const PoolingConfig pooling_;
  const bool normalize_;
  Activations acts_;
  ActivationGrads act_grads_;
  PackedBatch batch_;
  // Per-batch buffers, grown to the largest batch seen.
  std::vector<float> pooled_, normed_, dpooled_, dnormed_, dhidden_, cos_;
};

}  // namespace simtune

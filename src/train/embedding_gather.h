// Data-parallel training of a loss whose examples interact (in-batch negatives, pairwise ranking,
// hard-pair mining; LossShape::batch_wide): each rank embeds only its share of the global batch,
// but the loss must see the whole batch, as the library's gather_across_devices does. Every
// rank's embeddings and labels are gathered into the global batch's layout, every rank runs the
// loss on it (the same bits everywhere), and each keeps the gradient of its own rows for its
// backward; the ranks' parameter gradients then add up to the whole batch's (GradientSync).
#pragma once

#include <cstddef>
#include <vector>

#include "simtune/dist/group.h"
#include "train/batches.h"
#include "train/loss.h"

namespace simtune {

class EmbeddingGather {
 public:
  explicit EmbeddingGather(dist::Group& group) : group_(group) {}

  // emb, d_emb: this rank's share (batch.texts.size() rows of D, column by column; null when the
  // share is empty, which still takes part). Adds this rank's rows of the global loss's gradient
  // into d_emb and returns the global loss times the share's weight, so that the ranks' sum is
  // the global batch's loss.
  float forward_backward(Loss& loss, float* d_emb, const float* emb, const Batch& batch, int D);

 private:
  dist::Group& group_;
  // Grown to the largest batch and kept.
  std::vector<std::size_t> examples_, counts_;
  std::vector<float> gathered_, global_, d_global_, labels_;
};

// The loss of this rank's share (`emb`, `d_emb` as in EmbeddingGather::forward_backward), counted
// by the share's weight: through `gather` when set (under mpirun, a loss whose examples
// interact), else on the share alone with the loss's gradient scaled by the weight too; the
// gradients of the loss's own parameters are scaled by the weight either way. An empty share
// without a gather counts 0.
float share_loss(Loss& loss, EmbeddingGather* gather, float* d_emb, const float* emb,
                 const Batch& batch, int D);

}  // namespace simtune

// GradCache (Gao et al. 2021), as sentence-transformers' CachedMultipleNegativesRankingLoss runs
// it: a loss over a batch far larger than the activations memory allows. The batch is embedded in
// mini-batches whose activations are dropped after each, the loss and the embeddings' gradient
// are computed on the whole batch, then each mini-batch runs forward again with the same dropout
// masks (the generator's state is replayed) and backward with its slice of that gradient. The
// parameters' gradient equals the uncached loss's; memory grows with the mini-batch alone.
// Under mpirun each rank embeds its share's mini-batches, the gather (EmbeddingGather) runs the
// loss on the global batch's embeddings, and each rank replays its own mini-batches with its rows'
// slice of that gradient, as the library's CachedMultipleNegativesRankingLoss with
// gather_across_devices.
#pragma once

#include <cstddef>
#include <vector>

#include "simtune/core/rng.h"
#include "simtune/model/params.h"
#include "train/batches.h"
#include "train/embedding_gather.h"
#include "train/embedding_pass.h"
#include "train/loss.h"

namespace simtune {

class GradCache {
 public:
  explicit GradCache(std::size_t mini_batch_size) : mini_batch_size_(mini_batch_size) {}

  // The loss of `batch` (this rank's share, counted by its weight as train_state.h's
  // forward_backward counts it; through `gather` when set); accumulates the parameters' gradient
  // into `grads`. `rng` (may be null: no dropout) ends where one forward of every mini-batch
  // leaves it.
  float forward_backward(EmbeddingPass& model, Loss& loss, const Batch& batch,
                         const BertWeights& weights, const BertWeights& grads, Rng* rng,
                         EmbeddingGather* gather = nullptr);

 private:
  // Texts [begin, end) of the batch, in the reused `mini_` list.
  const std::vector<const TokenIds*>& mini_batch(const Batch& batch, std::size_t begin);

  std::size_t mini_batch_size_;
  std::vector<const TokenIds*> mini_;
  std::vector<Rng> rng_states_;  // the generator before each mini-batch's first forward
  std::vector<float> embeddings_, d_embeddings_;
};

}  // namespace simtune

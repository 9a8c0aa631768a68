// Training as llm.c's loop has it: a TrainState holding everything a run changes (parameters,
// gradients, AdamW moments, step, dropout RNG: what a checkpoint saves), and train_step, which
// reads as its verbs: zero_grad, forward, loss, backward, clip, update.
#pragma once

#include <cstdint>

#include "simtune/core/error.h"
#include "simtune/core/rng.h"
#include "simtune/model/bert.h"
#include "simtune/model/params.h"
#include "simtune/train/trainer.h"
#include "train/batches.h"
#include "train/embedding_gather.h"
#include "train/embedding_pass.h"
#include "train/grad_cache.h"
#include "train/gradient_sync.h"
#include "train/gradients.h"
#include "train/loss.h"
#include "train/optimizer.h"

namespace simtune {

struct TrainState {
  TrainState(BertParams params, const BertConfig& config, AdamWConfig adam, std::uint64_t seed);
  TrainState(const TrainState&) = delete;
  TrainState& operator=(const TrainState&) = delete;

  BertParams params;
  Gradients grads;  // parameter layout, word embeddings sparse
  AdamW adam;       // moments (parameter layout) and AdamW's own step count
  Rng dropout_rng;
  std::int64_t step = 0;  // optimizer steps done
  // Views of params and grads by layer, for the model's forward and backward.
  const BertWeights weights;
  const BertWeights grad_weights;
};

// What every step of a run computes with.
struct StepSetup {
  EmbeddingPass& model;
  Loss& loss;
  LinearWarmup schedule;
  float lr = 0;  // peak learning rate
  float max_grad_norm = 0;
  bool dropout = false;
  // Data-parallel training: sums the ranks' gradients and losses after backward (none alone).
  GradientSync* sync = nullptr;
  GradCache* grad_cache = nullptr;  // set: the loss runs over mini-batches (grad_cache.h)
  // Set under mpirun for a loss whose examples interact: it sees the whole batch's embeddings.
  EmbeddingGather* gather = nullptr;
};

// Training diverged: a loss, gradient or weight became NaN or infinite.
struct Diverged : Error {
  using Error::Error;
};

// The batch through the model, the loss and back: accumulates the parameters' gradient into
// `grads` and returns the loss (the uncached path of train_step; GradCache is the cached one).
// Under mpirun the loss and its gradient count by the share's weight in the global batch, and
// `gather` (set for a loss whose examples interact) runs the loss on the global batch.
float forward_backward(EmbeddingPass& model, Loss& loss, const Batch& batch,
                       const BertWeights& weights, const BertWeights& grads, Rng* rng,
                       EmbeddingGather* gather = nullptr);

// One optimizer step on `batch` (this rank's share of the step's global batch). Fills the report's
// step, loss, lr and grad_norm. Throws Diverged naming the step and the likely cause when the loss
// or the gradient norm is not finite (the state is then unchanged but for its gradients).
StepReport train_step(TrainState& state, StepSetup& setup, const Batch& batch);

}  // namespace simtune

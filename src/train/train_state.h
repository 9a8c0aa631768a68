// Training as llm.c's loop has it: a TrainState holding everything a run changes (parameters,
// gradients, AdamW moments, step, dropout RNG: what a checkpoint saves), and train_step, which
// reads as its verbs: zero_grad, forward, loss, backward, clip, update.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

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
  // `params`: the model's tensors, then `loss_tensors` more, the loss's own (Loss::parameters).
  TrainState(BertParams params, const BertConfig& config, AdamWConfig adam, std::uint64_t seed,
             std::size_t loss_tensors = 0);
  TrainState(const TrainState&) = delete;
  TrainState& operator=(const TrainState&) = delete;

  // What a saved model holds (the loss's tensors left out), and the loss's tensors alone.
  std::vector<TensorRef> model_tensor_refs() const;
  std::vector<TensorRef> loss_tensor_refs() const;
  // The loss's tensors' first float in params.values and grads (the end of the model's).
  std::size_t loss_offset() const;

  BertParams params;
  const std::size_t loss_tensors;
  Gradients grads;  // parameter layout, word embeddings sparse
  AdamW adam;       // moments (parameter layout) and AdamW's own step count
  Rng dropout_rng;
  std::int64_t step = 0;  // optimizer steps done
  // Views of params and grads by layer, for the model's forward and backward.
  const BertWeights weights;
  const BertWeights grad_weights;
};

// `params` with `loss_tensors` (Loss::parameters: offsets from 0) laid out after the model's
// tensors, zero.
BertParams with_loss_tensors(BertParams params, const std::vector<ParamTensor>& loss_tensors);
// The loss's tensors of `state` at their initial values: from `init` (a safetensors file of
// them, load_loss_tensors) when set, else drawn by `loss` from a stream of `seed` of their own
// (so they do not shift the dropout masks). Nothing for a loss without tensors.
void init_loss_tensors(TrainState& state, const Loss& loss, const std::filesystem::path& init,
                       std::uint64_t seed);
// Reads the values of state's loss tensors (SoftmaxLoss's classifier) from a safetensors file
// holding them under their names and shapes; Error naming the file and tensor otherwise.
void load_loss_tensors(const std::filesystem::path& path, TrainState& state);

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
// `gather` (set for a loss whose examples interact) runs the loss on the global batch;
// `layer_done` hears of each encoder layer as backward finishes it.
float forward_backward(EmbeddingPass& model, Loss& loss, const Batch& batch,
                       const BertWeights& weights, const BertWeights& grads, Rng* rng,
                       EmbeddingGather* gather = nullptr, const LayerDone* layer_done = nullptr);

// One optimizer step on `batch` (this rank's share of the step's global batch). Fills the report's
// step, loss, lr and grad_norm. Throws Diverged naming the step and the likely cause when the loss
// or the gradient norm is not finite (the state is then unchanged but for its gradients).
StepReport train_step(TrainState& state, StepSetup& setup, const Batch& batch);

}  // namespace simtune

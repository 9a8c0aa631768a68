// The model's side of a training step: texts through BERT, pooling, Dense and Normalize to
// sentence embeddings (forward), and the embeddings' gradient back into the parameters' (backward).
// The loss sits between the two; the trainer orchestrates.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "simtune/io/model_files.h"
#include "simtune/model/bert.h"
#include "simtune/model/head.h"
#include "simtune/model/params.h"
#include "train/gradients.h"

namespace simtune {

class EmbeddingPass {
 public:
  EmbeddingPass(const ModelFiles& files, Dropout dropout);

  // Embeddings (texts.size(), dimension()) of every text, in order, from one packed forward
  // pass; they live until the next forward. `rng` draws dropout masks when dropout is on.
  const float* forward(const std::vector<const TokenIds*>& texts, const BertWeights& weights,
                       Rng* rng);
  int dimension() const { return head_.dimension(); }

  // The embeddings' gradient buffer, zeroed, for the loss to accumulate into.
  float* zeroed_d_embeddings();
  // Accumulates into `grads` (a view of the gradient buffer) the parameters' gradient given
  // what the loss left in zeroed_d_embeddings(), for the last forward; `layer_done` as
  // bert_backward's.
  void backward(const BertWeights& grads, const BertWeights& weights,
                const LayerDone* layer_done = nullptr);

 private:
  const BertConfig config_;
  const bool normalize_;
  SentenceHead head_;
  Activations acts_;
  ActivationGrads act_grads_;
  PackedBatch batch_;
  std::optional<PackedWeights> packed_;  // the weights read in place
  const float* hidden_ = nullptr;        // the last forward's sequence output
  // Per-batch buffers, grown to the largest batch seen.
  std::vector<float> d_embeddings_, dhidden_;
};

}  // namespace simtune

// Data-parallel training's one exchange per step. Each rank has run forward and backward on its
// share of the global batch, with its loss gradient weighted by its share of the rows; summing
// the ranks' gradients then gives the whole batch's gradient, on every rank, and every rank takes
// the same optimizer step. The sums run in rank order (dist::Group::sum_in_rank_order), so a run
// with the same number of ranks is bit-identical run to run. Alone, nothing is exchanged.
//
// Bucketed, each encoder layer's dense gradient is one bucket whose exchange starts as backward
// finishes that layer (layer_done) and travels while the layers below compute; the rest of the
// dense buffer (embeddings' tables but the words', the head) goes after backward. Every element
// is still summed in rank order, so the bits are those of the unbucketed exchange.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "simtune/dist/group.h"
#include "simtune/model/bert.h"
#include "simtune/model/params.h"
#include "train/gradients.h"

namespace simtune {

class GradientSync {
 public:
  // `grads` is the buffer every step exchanges, laid out by `layout`, with `layers` encoder
  // layers.
  GradientSync(dist::Group& group, Gradients& grads, const ParamLayout& layout, std::size_t layers,
               bool buckets);
  GradientSync(const GradientSync&) = delete;  // layer_done_ holds this
  GradientSync& operator=(const GradientSync&) = delete;

  // For the step's backward pass (bert_backward's layer_done) when its layers are bucketed; null
  // alone or unbucketed. A step with several backward passes (GradCache) must not pass it: the
  // first would send layers the later ones still add to.
  const LayerDone* layer_done() const { return buckets_ ? &layer_done_ : nullptr; }

  // grads becomes the sum of every rank's: the dense ranges through a reduce-scatter and
  // allgather, the word-embedding rows as (row ids, rows) gathered from every rank, so only rows
  // some rank's share touched travel; the batch's rows become the union of the ranks'. Returns the
  // sum of every rank's `loss`, in rank order.
  float all_reduce(Gradients& grads, float loss);

 private:
  float sum_sparse_rows_and_loss(Gradients& grads, float loss);
  void start_layer(std::size_t layer);

  dist::Group& group_;
  const bool buckets_;
  float* grads_;
  std::vector<FloatRange> layers_;  // per encoder layer, its tensors' floats
  std::size_t unstarted_layers_;    // layers [0, this) still wait for this step's exchange
  LayerDone layer_done_;
  // Grown to the largest step and kept.
  std::vector<float> mine_, values_;
  std::vector<std::int32_t> rows_, union_;
  std::vector<std::size_t> row_counts_, value_counts_;
};

}  // namespace simtune

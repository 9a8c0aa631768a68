// Data-parallel training's one exchange per step. Each rank has run forward and backward on its
// share of the global batch, with its loss gradient weighted by its share of the rows; summing
// the ranks' gradients then gives the whole batch's gradient, on every rank, and every rank takes
// the same optimizer step. The sums run in rank order (dist::Group::sum_in_rank_order), so a run
// with the same number of ranks is bit-identical run to run. Alone, nothing is exchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "simtune/dist/group.h"
#include "train/gradients.h"

namespace simtune {

class GradientSync {
 public:
  explicit GradientSync(dist::Group& group) : group_(group) {}

  // grads becomes the sum of every rank's: the dense ranges through a reduce-scatter and
  // allgather, the word-embedding rows as (row ids, rows) gathered from every rank, so only rows
  // some rank's share touched travel; the batch's rows become the union of the ranks'. Returns the
  // sum of every rank's `loss`, in rank order.
  float all_reduce(Gradients& grads, float loss);

 private:
  float sum_sparse_rows_and_loss(Gradients& grads, float loss);

  dist::Group& group_;
  // Grown to the largest step and kept.
  std::vector<float> mine_, values_;
  std::vector<std::int32_t> rows_, union_;
  std::vector<std::size_t> row_counts_, value_counts_;
};

}  // namespace simtune

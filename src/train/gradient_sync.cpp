#include "train/gradient_sync.h"

#include <algorithm>
#include <span>

namespace simtune {

float GradientSync::all_reduce(Gradients& grads, float loss) {
  if (group_.size() == 1) return loss;
  for (const FloatRange& r : grads.dense_ranges()) {
    group_.sum_in_rank_order(grads.data() + r.begin, r.end - r.begin);
  }
  return sum_sparse_rows_and_loss(grads, loss);
}

float GradientSync::sum_sparse_rows_and_loss(Gradients& grads, float loss) {
  const SparseRows& rows = grads.rows();
  const std::size_t width = rows.width;
  float* g = grads.data() + rows.offset;
  // Each rank sends its rows' values and then its loss: width * rows + 1 floats.
  mine_.resize(rows.batch.size() * width + 1);
  for (std::size_t i = 0; i < rows.batch.size(); i++) {
    float* row = g + static_cast<std::size_t>(rows.batch[i]) * width;
    std::copy_n(row, width, mine_.data() + i * width);
    // Summed again below, from zero, in rank order like every other rank.
    std::fill_n(row, width, 0.0f);
  }
  mine_.back() = loss;
  group_.all_counts(rows.batch.size(), row_counts_);
  group_.all_gather(std::span<const std::int32_t>(rows.batch), row_counts_, rows_);
  value_counts_.resize(row_counts_.size());
  for (std::size_t q = 0; q < row_counts_.size(); q++) {
    value_counts_[q] = row_counts_[q] * width + 1;
  }
  group_.all_gather(std::span<const float>(mine_), value_counts_, values_);

  union_.assign(rows_.begin(), rows_.end());
  std::sort(union_.begin(), union_.end());
  union_.erase(std::unique(union_.begin(), union_.end()), union_.end());
  grads.widen_batch_rows(union_);
  // rows_ and values_ hold rank 0's part, then rank 1's, ...: adding them in that order is rank
  // order.
  float total_loss = 0.0f;
  const float* v = values_.data();
  std::size_t k = 0;
  for (std::size_t count : row_counts_) {
    for (std::size_t end = k + count; k < end; k++, v += width) {
      float* row = g + static_cast<std::size_t>(rows_[k]) * width;
      for (std::size_t i = 0; i < width; i++) row[i] += v[i];
    }
    total_loss += *v++;
  }
  return total_loss;
}

}  // namespace simtune

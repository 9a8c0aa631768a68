#include "train/gradient_sync.h"

#include <algorithm>
#include <span>
#include <string>

#include "simtune/core/check.h"

namespace simtune {

GradientSync::GradientSync(dist::Group& group, Gradients& grads, const ParamLayout& layout,
                           std::size_t layers, bool buckets)
    : group_(group),
      buckets_(buckets && group.size() > 1),
      grads_(grads.data()),
      unstarted_layers_(layers),
      layer_done_([this](std::size_t layer) { start_layer(layer); }) {
  for (std::size_t l = 0; l < layers; l++) {
    const std::string prefix = "encoder.layer." + std::to_string(l) + ".";
    FloatRange r{layout.total, 0};
    std::size_t floats = 0;
    for (const ParamTensor& t : layout.tensors) {
      if (t.name.rfind(prefix, 0) != 0) continue;
      r.begin = std::min(r.begin, t.offset);
      r.end = std::max(r.end, t.offset + t.numel);
      floats += t.numel;
    }
    // A bucket is one contiguous range, the layers one after another.
    SIMTUNE_CHECK(floats > 0 && r.end - r.begin == floats);
    SIMTUNE_CHECK(l == 0 || r.begin == layers_.back().end);
    layers_.push_back(r);
  }
}

void GradientSync::start_layer(std::size_t layer) {
  // Backward finishes the layers last to first, as all_reduce starts those it did not.
  SIMTUNE_CHECK(layer + 1 == unstarted_layers_);
  unstarted_layers_ = layer;
  group_.start_sum(grads_ + layers_[layer].begin, layers_[layer].end - layers_[layer].begin);
  group_.progress_sums();
}

float GradientSync::all_reduce(Gradients& grads, float loss) {
  if (group_.size() == 1) return loss;
  SIMTUNE_CHECK(grads.data() == grads_);
  if (!buckets_) {
    for (const FloatRange& r : grads.dense_ranges()) {
      group_.sum_in_rank_order(grads.data() + r.begin, r.end - r.begin);
    }
    return sum_sparse_rows_and_loss(grads, loss);
  }
  // A rank whose share was empty ran no backward: it starts every layer here, in the same order.
  while (unstarted_layers_ > 0) start_layer(unstarted_layers_ - 1);
  unstarted_layers_ = layers_.size();
  const std::size_t layers_begin = layers_.empty() ? 0 : layers_.front().begin;
  const std::size_t layers_end = layers_.empty() ? 0 : layers_.back().end;
  for (const FloatRange& r : grads.dense_ranges()) {
    // The dense range less the layers' floats: the parts before and after them.
    const FloatRange parts[2] = {{r.begin, std::min(r.end, std::max(r.begin, layers_begin))},
                                 {std::max(r.begin, std::min(r.end, layers_end)), r.end}};
    for (const FloatRange& p : parts) {
      if (p.end > p.begin) group_.start_sum(grads_ + p.begin, p.end - p.begin);
    }
  }
  group_.finish_sums();
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

#include "train/gradients.h"

#include <algorithm>

#include "simtune/core/threads.h"

namespace simtune {

SparseRows::SparseRows(const ParamTensor& matrix)
    : offset(matrix.offset),
      width(static_cast<std::size_t>(matrix.shape[1])),
      seen(static_cast<std::size_t>(matrix.shape[0]), 0) {}

void SparseRows::mark_rows_with_moments(const float* m, const float* v) {
  for (std::size_t r = 0; r < seen.size(); r++) {
    const std::size_t begin = offset + r * width;
    for (std::size_t i = begin; i < begin + width && !seen[r]; i++) {
      if (m[i] != 0.0f || v[i] != 0.0f) seen[r] = kHit;
    }
  }
}

Gradients::Gradients(const ParamLayout& layout, const std::string& sparse)
    : values_(layout.total), rows_(layout.at(sparse)) {}

void Gradients::zero_for_batch(const std::vector<const TokenIds*>& texts) {
  float* g = values_.data();
  if (!zeroed_) {
    for (const FloatRange& r : dense_ranges()) zero_parallel(g + r.begin, r.end - r.begin);
    for (std::int32_t r : rows_.batch) {
      std::fill_n(g + rows_.offset + static_cast<std::size_t>(r) * rows_.width, rows_.width, 0.0f);
    }
  }
  zeroed_ = false;
  for (std::int32_t r : rows_.batch) rows_.seen[static_cast<std::size_t>(r)] = SparseRows::kHit;
  rows_.batch.clear();
  for (const TokenIds* ids : texts) rows_.batch.insert(rows_.batch.end(), ids->begin(), ids->end());
  std::sort(rows_.batch.begin(), rows_.batch.end());
  rows_.batch.erase(std::unique(rows_.batch.begin(), rows_.batch.end()), rows_.batch.end());
  mark_first_hits();
}

void Gradients::widen_batch_rows(const std::vector<std::int32_t>& rows) {
  rows_.batch.assign(rows.begin(), rows.end());
  mark_first_hits();
}

void Gradients::mark_first_hits() {
  for (std::int32_t r : rows_.batch) {
    std::uint8_t& state = rows_.seen[static_cast<std::size_t>(r)];
    if (state != SparseRows::kNever) continue;
    state = SparseRows::kFirstHit;
    // Written before the backward pass adds to it, so its page is never mapped read-only.
    std::fill_n(values_.data() + rows_.offset + static_cast<std::size_t>(r) * rows_.width,
                rows_.width, 0.0f);
  }
}

}  // namespace simtune

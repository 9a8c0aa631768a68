// The gradient buffer: one float per parameter, in the parameter layout (ParamLayout), with the
// word-embedding matrix kept sparse. A batch's tokens hit a few hundred of that matrix's 30,522
// rows; the other rows' gradients are zero. Only rows some batch has hit are ever written or
// read, so the rest cost no memory (ZeroedFloats), and clipping and AdamW loop over the dense
// ranges and the hit rows instead of the whole buffer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "simtune/core/zeroed_floats.h"
#include "simtune/model/params.h"

namespace simtune {

using TokenIds = std::vector<std::int32_t>;

// Rows of the sparse matrix (the word embeddings) inside a parameter-sized buffer.
struct SparseRows {
  std::size_t offset = 0;           // first float of the matrix
  std::size_t width = 0;            // floats per row
  std::vector<std::int32_t> batch;  // rows the current batch hit, ascending
  // Per row: kNever, kHit (by an earlier batch), or kFirstHit (first by the current one: its
  // AdamW moments are still zero, and AdamW writes them without reading).
  enum : std::uint8_t { kNever = 0, kHit = 1, kFirstHit = 2 };
  std::vector<std::uint8_t> seen;

  explicit SparseRows(const ParamTensor& matrix);
  std::size_t end() const { return offset + seen.size() * width; }
  // After a resume: rows whose loaded moments are not zero were hit before.
  void mark_rows_with_moments(const float* m, const float* v);
};

struct FloatRange {
  std::size_t begin, end;
};

class Gradients {
 public:
  // `sparse` names the tensor kept sparse, e.g. "embeddings.word_embeddings.weight".
  Gradients(const ParamLayout& layout, const std::string& sparse);

  float* data() { return values_.data(); }
  const float* data() const { return values_.data(); }
  std::size_t size() const { return values_.size(); }
  const SparseRows& rows() const { return rows_; }
  SparseRows& rows() { return rows_; }

  // zero_grad: zeroes what the previous batch wrote (the dense ranges and its rows, unless an
  // AdamW step has left them zero since) and records the rows this batch's texts hit.
  void zero_for_batch(const std::vector<const TokenIds*>& texts);
  // Every gradient the batch wrote is zero again (AdamW::step zeroed them as it read them).
  void zeroed_by_step() { zeroed_ = true; }
  // The batch's rows become `rows` (ascending, a superset of them): in data-parallel training,
  // the rows every rank's share of the batch hit. Rows new to the batch have zero gradients.
  void widen_batch_rows(const std::vector<std::int32_t>& rows);

  // Everything outside the sparse matrix: before it and after it.
  std::array<FloatRange, 2> dense_ranges() const {
    return {FloatRange{0, rows_.offset}, FloatRange{rows_.end(), values_.size()}};
  }

 private:
  void mark_first_hits();

  ZeroedFloats values_;
  SparseRows rows_;
  bool zeroed_ = true;
};

}  // namespace simtune

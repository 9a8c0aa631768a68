// The training set as optimizer steps: the batch of any step rebuilt from (seed, epoch) alone, so
// a resumed run sees exactly the batches it would have. In data-parallel training each rank takes
// its share of every global batch (dist::share_of) and tokenizes only the examples of its shares,
// each example once.
#pragma once

#include <cstdint>
#include <vector>

#include "simtune/core/matrix.h"
#include "simtune/data/pairs.h"
#include "simtune/dist/group.h"
#include "simtune/text/tokenizer.h"
#include "train/gradients.h"

namespace simtune {

// One step's examples: `texts` holds every example's first text, then every second text, then
// each further column's (the layout Loss::forward_backward reads), `labels` one per example (a
// score), or one row per example (a teacher embedding). `weight` is this share's fraction of the
// global batch's examples (1 alone): the factor on its mean loss that makes the ranks' sum the
// global batch's mean.
struct Batch {
  std::vector<const TokenIds*> texts;
  std::vector<float> labels;
  int examples = 0;
  int columns = 2;  // texts per example
  float weight = 1.0f;
  std::size_t global_size = 0;  // examples in the global batch, over every rank
  int size() const { return examples; }
};

class TrainBatches {
 public:
  // teacher: one row per example, the label instead of its score (MSELoss).
  // no_duplicates: sentence-transformers' NoDuplicatesBatchSampler: each batch is filled from the
  // epoch's order skipping examples that share a text with the batch (they wait for a later
  // batch), so in-batch negatives are never copies of a positive; an epoch may then have more
  // batches than steps_per_epoch(), and the run's length stays epochs * steps_per_epoch() steps,
  // as in the library.
  // rank, ranks: this process's share of every batch under mpirun.
  // The batches keep a reference to the examples, and read each one only when a share needs it.
  TrainBatches(PairRows& pairs, const Tokenizer& tokenizer, std::size_t max_seq_length,
               std::size_t batch_size, std::uint64_t seed, bool shuffle, bool no_duplicates = false,
               const Matrix* teacher = nullptr, int rank = 0, int ranks = 1);

  std::int64_t steps_per_epoch() const { return steps_per_epoch_; }
  // Texts per example: 2 plus the examples' negatives.
  int columns() const { return static_cast<int>(columns_); }
  // This rank's share of the batch of optimizer step `step` (0-based); valid until the next
  // call. A share may be empty when the batch has fewer examples than there are ranks.
  const Batch& at(std::int64_t step);

 private:
  void start_epoch(std::int64_t epoch, std::int64_t first_step);

  PairRows& pairs_;
  const Tokenizer& tokenizer_;
  std::size_t max_seq_length_;
  std::size_t columns_;
  std::vector<TokenIds> ids_;  // [column * share size + k]: the current share's texts' ids
  const Matrix* teacher_;
  std::size_t batch_size_;
  int rank_, ranks_;
  std::uint64_t seed_;
  bool shuffle_;
  std::int64_t steps_per_epoch_;
  bool no_duplicates_;
  std::vector<std::uint64_t> text_keys_;  // [example * columns + column]: hash of the text
  // The current epoch: its examples in batch order, where each batch ends, its first step.
  std::vector<std::size_t> order_, batch_ends_;
  std::int64_t order_epoch_ = -1, epoch_first_step_ = 0;
  Batch batch_;
};

// Epoch e's order of n examples: a Fisher-Yates shuffle from a generator seeded by (seed, e), or
// file order without shuffle.
std::vector<std::size_t> epoch_order(std::size_t n, std::uint64_t seed, std::int64_t epoch,
                                     bool shuffle);

}  // namespace simtune

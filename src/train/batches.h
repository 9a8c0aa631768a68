// The training set as optimizer steps: every pair tokenized once, and the batch of any step
// rebuilt from (seed, epoch) alone, so a resumed run sees exactly the batches it would have.
#pragma once

#include <cstdint>
#include <vector>

#include "simtune/data/pairs.h"
#include "simtune/text/tokenizer.h"
#include "train/gradients.h"

namespace simtune {

// One step's examples: `texts` holds every example's first text, then every second text (the
// layout Loss::forward_backward reads), `labels` one per example.
struct Batch {
  std::vector<const TokenIds*> texts;
  std::vector<float> labels;
  int size() const { return static_cast<int>(labels.size()); }
};

class TrainBatches {
 public:
  TrainBatches(const std::vector<Pair>& pairs, const Tokenizer& tokenizer,
               std::size_t max_seq_length, std::size_t batch_size, std::uint64_t seed,
               bool shuffle);

  std::int64_t steps_per_epoch() const { return steps_per_epoch_; }
  // The batch of optimizer step `step` (0-based); valid until the next call.
  const Batch& at(std::int64_t step);

 private:
  std::vector<TokenIds> ids_a_, ids_b_;
  std::vector<float> scores_;
  std::size_t batch_size_;
  std::uint64_t seed_;
  bool shuffle_;
  std::int64_t steps_per_epoch_;
  std::vector<std::size_t> order_;
  std::int64_t order_epoch_ = -1;
  Batch batch_;
};

// Epoch e's order of n examples: a Fisher-Yates shuffle from a generator seeded by (seed, e), or
// file order without shuffle.
std::vector<std::size_t> epoch_order(std::size_t n, std::uint64_t seed, std::int64_t epoch,
                                     bool shuffle);

}  // namespace simtune

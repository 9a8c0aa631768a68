// The training set as optimizer steps: the batch of any step rebuilt from (seed, epoch) alone, so
// a resumed run sees exactly the batches it would have. In data-parallel training each rank takes
// its share of every global batch (dist::share_of) and tokenizes only the pairs of its shares,
// each pair once.
#pragma once

#include <cstdint>
#include <vector>

#include "simtune/data/pairs.h"
#include "simtune/dist/group.h"
#include "simtune/text/tokenizer.h"
#include "train/gradients.h"

namespace simtune {

// One step's examples: `texts` holds every example's first text, then every second text (the
// layout Loss::forward_backward reads), `labels` one per example. `weight` is this share's
// fraction of the global batch's examples (1 alone): the factor on its mean loss that makes the
// ranks' sum the global batch's mean.
struct Batch {
  std::vector<const TokenIds*> texts;
  std::vector<float> labels;
  float weight = 1.0f;
  std::size_t global_size = 0;  // examples in the global batch, over every rank
  int size() const { return static_cast<int>(labels.size()); }
};

class TrainBatches {
 public:
  TrainBatches(const std::vector<Pair>& pairs, const Tokenizer& tokenizer,
               std::size_t max_seq_length, std::size_t batch_size, std::uint64_t seed, bool shuffle,
               int rank = 0, int ranks = 1);
  // The batches keep a reference to the pairs.
  TrainBatches(std::vector<Pair>&&, const Tokenizer&, std::size_t, std::size_t, std::uint64_t, bool,
               int = 0, int = 1) = delete;

  std::int64_t steps_per_epoch() const { return steps_per_epoch_; }
  // This rank's share of the batch of optimizer step `step` (0-based); valid until the next
  // call. A share may be empty when the batch has fewer examples than there are ranks.
  const Batch& at(std::int64_t step);

 private:
  void tokenize(std::size_t pair);

  const std::vector<Pair>& pairs_;
  const Tokenizer& tokenizer_;
  std::size_t max_seq_length_;
  std::vector<TokenIds> ids_a_, ids_b_;
  std::vector<std::uint8_t> tokenized_;
  std::size_t batch_size_;
  int rank_, ranks_;
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

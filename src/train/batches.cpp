#include "train/batches.h"

#include <algorithm>
#include <numeric>

#include "simtune/core/rng.h"

namespace simtune {

std::vector<std::size_t> epoch_order(std::size_t n, std::uint64_t seed, std::int64_t epoch,
                                     bool shuffle) {
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  if (!shuffle) return order;
  Rng rng(seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(epoch) + 1);
  for (std::size_t i = n; i > 1; i--) {
    std::swap(order[i - 1], order[rng.next_u64() % i]);
  }
  return order;
}

TrainBatches::TrainBatches(const std::vector<Pair>& pairs, const Tokenizer& tokenizer,
                           std::size_t max_seq_length, std::size_t batch_size, std::uint64_t seed,
                           bool shuffle)
    : ids_a_(pairs.size()),
      ids_b_(pairs.size()),
      scores_(pairs.size()),
      batch_size_(batch_size),
      seed_(seed),
      shuffle_(shuffle),
      steps_per_epoch_(static_cast<std::int64_t>((pairs.size() + batch_size - 1) / batch_size)) {
  for (std::size_t i = 0; i < pairs.size(); i++) {
    ids_a_[i] = tokenizer.encode(pairs[i].a, max_seq_length);
    ids_b_[i] = tokenizer.encode(pairs[i].b, max_seq_length);
    scores_[i] = static_cast<float>(pairs[i].score);
  }
}

const Batch& TrainBatches::at(std::int64_t step) {
  const std::int64_t epoch = step / steps_per_epoch_;
  if (epoch != order_epoch_) {
    order_ = epoch_order(ids_a_.size(), seed_, epoch, shuffle_);
    order_epoch_ = epoch;
  }
  const std::size_t begin = static_cast<std::size_t>(step % steps_per_epoch_) * batch_size_;
  const std::size_t end = std::min(ids_a_.size(), begin + batch_size_);
  batch_.texts.clear();
  batch_.labels.clear();
  for (std::size_t k = begin; k < end; k++) batch_.texts.push_back(&ids_a_[order_[k]]);
  for (std::size_t k = begin; k < end; k++) {
    batch_.texts.push_back(&ids_b_[order_[k]]);
    batch_.labels.push_back(scores_[order_[k]]);
  }
  return batch_;
}

}  // namespace simtune

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
                           bool shuffle, int rank, int ranks)
    : pairs_(pairs),
      tokenizer_(tokenizer),
      max_seq_length_(max_seq_length),
      ids_a_(pairs.size()),
      ids_b_(pairs.size()),
      tokenized_(pairs.size(), 0),
      batch_size_(batch_size),
      rank_(rank),
      ranks_(ranks),
      seed_(seed),
      shuffle_(shuffle),
      steps_per_epoch_(static_cast<std::int64_t>((pairs.size() + batch_size - 1) / batch_size)) {}

void TrainBatches::tokenize(std::size_t pair) {
  if (tokenized_[pair]) return;
  ids_a_[pair] = tokenizer_.encode(pairs_[pair].a, max_seq_length_);
  ids_b_[pair] = tokenizer_.encode(pairs_[pair].b, max_seq_length_);
  tokenized_[pair] = 1;
}

const Batch& TrainBatches::at(std::int64_t step) {
  const std::int64_t epoch = step / steps_per_epoch_;
  if (epoch != order_epoch_) {
    order_ = epoch_order(ids_a_.size(), seed_, epoch, shuffle_);
    order_epoch_ = epoch;
  }
  const std::size_t begin = static_cast<std::size_t>(step % steps_per_epoch_) * batch_size_;
  const std::size_t global = std::min(ids_a_.size(), begin + batch_size_) - begin;
  const dist::Share share = dist::share_of(global, rank_, ranks_);
  batch_.texts.clear();
  batch_.labels.clear();
  for (std::size_t k = begin + share.begin; k < begin + share.end; k++) tokenize(order_[k]);
  for (std::size_t k = begin + share.begin; k < begin + share.end; k++) {
    batch_.texts.push_back(&ids_a_[order_[k]]);
  }
  for (std::size_t k = begin + share.begin; k < begin + share.end; k++) {
    batch_.texts.push_back(&ids_b_[order_[k]]);
    batch_.labels.push_back(static_cast<float>(pairs_[order_[k]].score));
  }
  batch_.global_size = global;
  batch_.weight =
      static_cast<float>(static_cast<double>(share.size()) / static_cast<double>(global));
  return batch_;
}

}  // namespace simtune

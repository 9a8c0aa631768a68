#include "train/batches.h"

#include <algorithm>
#include <functional>
#include <numeric>
#include <string_view>
#include <unordered_set>

#include "simtune/core/error.h"
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

namespace {

// NoDuplicatesBatchSampler's pass over one epoch's order: `order` rearranged into its batches,
// whose ends are returned. Each batch takes, in order, the remaining examples none of whose texts
// is already in it, until full; the skipped ones stay, in order, for the next batch. What remains
// is a list linked through `next` (node n is its head), so taking an example costs nothing:
// copying what remained after every batch made an epoch quadratic (1M rows: 12 s at start).
std::vector<std::size_t> no_duplicate_batches(std::vector<std::size_t>& order,
                                              const std::vector<std::uint64_t>& keys,
                                              std::size_t columns, std::size_t batch_size) {
  const std::size_t n = order.size(), head = n;
  std::vector<std::size_t> next(n + 1), batched, ends;
  std::iota(next.begin(), next.end(), std::size_t{1});  // n - 1 links to the head
  next[head] = n > 0 ? 0 : head;
  batched.reserve(n);
  std::unordered_set<std::uint64_t> in_batch;
  while (next[head] != head) {
    in_batch.clear();
    const std::size_t start = batched.size();
    std::size_t prev = head;
    for (std::size_t i = next[head]; i != head && batched.size() - start < batch_size;
         i = next[i]) {
      const std::uint64_t* texts = keys.data() + order[i] * columns;
      if (std::any_of(texts, texts + columns,
                      [&](std::uint64_t t) { return in_batch.count(t) > 0; })) {
        prev = i;
        continue;
      }
      batched.push_back(order[i]);
      in_batch.insert(texts, texts + columns);
      next[prev] = next[i];
    }
    ends.push_back(batched.size());
  }
  order = std::move(batched);
  return ends;
}

}  // namespace

TrainBatches::TrainBatches(PairRows& pairs, const Tokenizer& tokenizer, std::size_t max_seq_length,
                           std::size_t batch_size, std::uint64_t seed, bool shuffle,
                           bool no_duplicates, const Matrix* teacher, int rank, int ranks)
    : pairs_(pairs),
      tokenizer_(tokenizer),
      max_seq_length_(max_seq_length),
      columns_(pairs.size() == 0 ? 2 : pairs.texts(0)),
      teacher_(teacher),
      batch_size_(batch_size),
      rank_(rank),
      ranks_(ranks),
      seed_(seed),
      shuffle_(shuffle),
      steps_per_epoch_(static_cast<std::int64_t>((pairs.size() + batch_size - 1) / batch_size)),
      no_duplicates_(no_duplicates) {
  for (std::size_t i = 0; i < pairs.size(); i++) {
    if (pairs.texts(i) != columns_) {
      throw Error("example " + std::to_string(i + 1) + " has " + std::to_string(pairs.texts(i)) +
                  " texts, the first has " + std::to_string(columns_) +
                  ": every example needs the same columns");
    }
    if (!no_duplicates) continue;
    const Pair& p = pairs.at(i);
    const std::hash<std::string_view> hash;
    text_keys_.push_back(hash(p.a));
    if (!p.one_text) text_keys_.push_back(hash(p.b));
    for (const std::string& n : p.negatives) text_keys_.push_back(hash(n));
  }
}

void TrainBatches::start_epoch(std::int64_t epoch, std::int64_t first_step) {
  order_ = epoch_order(pairs_.size(), seed_, epoch, shuffle_);
  if (no_duplicates_) {
    batch_ends_ = no_duplicate_batches(order_, text_keys_, columns_, batch_size_);
  } else {
    batch_ends_.clear();
    for (std::size_t end = batch_size_; end < order_.size() + batch_size_; end += batch_size_) {
      batch_ends_.push_back(std::min(end, order_.size()));
    }
  }
  order_epoch_ = epoch;
  epoch_first_step_ = first_step;
}

const Batch& TrainBatches::at(std::int64_t step) {
  // Epochs may differ in length (no_duplicates), so a step is found by walking them from the
  // start, or on from the current one.
  if (order_epoch_ < 0 || step < epoch_first_step_) start_epoch(0, 0);
  while (step >= epoch_first_step_ + static_cast<std::int64_t>(batch_ends_.size())) {
    start_epoch(order_epoch_ + 1,
                epoch_first_step_ + static_cast<std::int64_t>(batch_ends_.size()));
  }
  const std::size_t index = static_cast<std::size_t>(step - epoch_first_step_);
  const std::size_t batch_begin = index == 0 ? 0 : batch_ends_[index - 1];
  const std::size_t global = batch_ends_[index] - batch_begin;
  const dist::Share share = dist::share_of(global, rank_, ranks_);
  const std::size_t begin = batch_begin + share.begin, end = batch_begin + share.end;
  // The share's rows are read and tokenized now and kept until the next call: each example comes
  // once an epoch, so keeping them longer would save a tokenization an epoch at the price of
  // every row's ids in memory.
  const std::size_t n = end - begin;
  ids_.resize(columns_ * n);
  for (std::size_t k = 0; k < n; k++) {
    const Pair& p = pairs_.at(order_[begin + k]);
    ids_[k] = tokenizer_.encode(p.a, max_seq_length_);
    if (!p.one_text) ids_[n + k] = tokenizer_.encode(p.b, max_seq_length_);
    for (std::size_t c = 0; c < p.negatives.size(); c++) {
      ids_[(2 + c) * n + k] = tokenizer_.encode(p.negatives[c], max_seq_length_);
    }
  }
  batch_.texts.clear();
  batch_.labels.clear();
  for (const TokenIds& ids : ids_) batch_.texts.push_back(&ids);
  for (std::size_t k = begin; k < end; k++) {
    if (teacher_ == nullptr) {
      batch_.labels.push_back(static_cast<float>(pairs_.score(order_[k])));
      continue;
    }
    const float* row = teacher_->row(order_[k]);
    batch_.labels.insert(batch_.labels.end(), row, row + teacher_->cols);
  }
  batch_.examples = static_cast<int>(end - begin);
  batch_.columns = columns();
  batch_.global_size = global;
  batch_.weight =
      static_cast<float>(static_cast<double>(share.size()) / static_cast<double>(global));
  return batch_;
}

}  // namespace simtune

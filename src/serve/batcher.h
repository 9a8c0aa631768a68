// Dynamic batching: HTTP threads submit tokenized texts and wait; one scheduler thread takes
// queued texts in arrival order up to a token and a text budget, all behind prompts of one
// length (pooling leaves a prompt's tokens out per batch), and runs them as one packed forward
// pass. The packed kernel makes every row bit-identical to encoding the text alone, so
// the batch a text lands in never changes its embedding.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

#include "serve/metrics.h"
#include "simtune/encode/encoder.h"

namespace simtune::serve {

using TokenIds = std::vector<std::int32_t>;

// What happens to a request's rows once all are computed, on the scheduler thread (whose
// OpenMP pool normalize_forward uses; an HTTP thread would start a pool of its own).
struct RowFormat {
  std::size_t dimensions = 0;  // keep the first `dimensions` values; 0: all
  bool normalize = false;      // then L2-normalize each row
};

class Batcher {
 public:
  // max_batch_requests 0: only the token budget bounds a batch. A text longer than the token
  // budget runs alone.
  Batcher(const Encoder& encoder, std::size_t max_batch_tokens, std::size_t max_batch_requests,
          Metrics& metrics);

  // One embedding row per sequence, as Encoder::encode_token_ids gives them for sequences that
  // start with prompt_length ids of a prompt, then formatted. Blocks until every row is
  // computed; thread-safe. Throws Error when the forward pass failed.
  Matrix embed(const std::vector<TokenIds>& ids, std::size_t prompt_length, RowFormat format);

  // Runs batches on the calling thread (whose OpenMP pool computes them) until stop() was
  // called and the queue is empty.
  void run();
  // Lets run() return once what is queued is done; embed() must not be called afterwards.
  void stop();
  std::size_t queued() const;

 private:
  struct Job;
  struct Entry {
    Job* job;
    std::size_t index;  // row of job's output
  };
  std::vector<Entry> next_batch(std::unique_lock<std::mutex>& lock);

  const Encoder& encoder_;
  const std::size_t max_tokens_, max_requests_;
  Metrics& metrics_;
  mutable std::mutex mutex_;
  std::condition_variable work_;
  std::deque<Entry> queue_;
  bool stopping_ = false;
};

}  // namespace simtune::serve

#include "serve/batcher.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <string>

#include "simtune/core/check.h"
#include "simtune/core/error.h"
#include "simtune/model/pooling.h"

namespace simtune::serve {
namespace {

void apply(RowFormat format, Matrix& m) {
  if (format.dimensions > 0 && format.dimensions < m.cols) {
    const std::size_t d = format.dimensions;
    for (std::size_t r = 0; r < m.rows; r++) std::copy_n(m.row(r), d, m.data.data() + r * d);
    m.cols = d;
    m.data.resize(m.rows * d);
  }
  if (format.normalize) {
    normalize_forward(m.data.data(), static_cast<int>(m.rows), static_cast<int>(m.cols));
  }
}

}  // namespace

struct Batcher::Job {
  const std::vector<TokenIds>& ids;
  std::size_t prompt_length;
  RowFormat format;
  Matrix out;
  std::size_t pending;
  std::string error;  // the first failure of a batch holding one of its rows
  std::condition_variable done;
};

Batcher::Batcher(const Encoder& encoder, std::size_t max_batch_tokens,
                 std::size_t max_batch_requests, Metrics& metrics)
    : encoder_(encoder),
      max_tokens_(max_batch_tokens),
      max_requests_(max_batch_requests),
      metrics_(metrics) {}

Matrix Batcher::embed(const std::vector<TokenIds>& ids, std::size_t prompt_length,
                      RowFormat format) {
  Job job{ids, prompt_length, format, {}, ids.size(), {}, {}};
  job.out.rows = ids.size();
  job.out.cols = encoder_.dimension();
  job.out.data.resize(job.out.rows * job.out.cols);
  if (ids.empty()) return std::move(job.out);
  std::unique_lock<std::mutex> lock(mutex_);
  SIMTUNE_CHECK(!stopping_);
  for (std::size_t i = 0; i < ids.size(); i++) queue_.push_back({&job, i});
  metrics_.set_queued(queue_.size());
  work_.notify_one();
  job.done.wait(lock, [&] { return job.pending == 0; });
  if (!job.error.empty()) throw Error(job.error);
  return std::move(job.out);
}

std::vector<Batcher::Entry> Batcher::next_batch(std::unique_lock<std::mutex>& lock) {
  work_.wait(lock, [&] { return !queue_.empty() || stopping_; });
  std::vector<Entry> batch;
  std::size_t tokens = 0;
  while (!queue_.empty()) {
    const Entry& e = queue_.front();
    const std::size_t len = e.job->ids[e.index].size();
    const bool full = tokens + len > max_tokens_ ||
                      (max_requests_ > 0 && batch.size() >= max_requests_) ||
                      (!batch.empty() && e.job->prompt_length != batch.front().job->prompt_length);
    if (!batch.empty() && full) break;
    tokens += len;
    batch.push_back(e);
    queue_.pop_front();
  }
  metrics_.set_queued(queue_.size());
  return batch;
}

void Batcher::run() {
  std::vector<TokenIds> ids;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    const std::vector<Entry> batch = next_batch(lock);
    if (batch.empty()) return;  // stopping, and nothing left
    // The jobs stay alive while they have pending rows, so their ids can be read unlocked.
    lock.unlock();
    ids.clear();
    std::size_t tokens = 0;
    for (const Entry& e : batch) {
      ids.push_back(e.job->ids[e.index]);
      tokens += ids.back().size();
    }
    EncodeOptions options;
    options.batch_size = batch.size();
    const auto start = std::chrono::steady_clock::now();
    Matrix rows;
    std::string error;
    try {
      rows = encoder_.encode_token_ids(ids, batch.front().job->prompt_length, options);
    } catch (const std::exception& e) {
      error = e.what();
    }
    metrics_.batch(batch.size(), tokens,
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    lock.lock();
    for (std::size_t k = 0; k < batch.size(); k++) {
      Job& job = *batch[k].job;
      if (error.empty()) {
        std::copy_n(rows.row(k), rows.cols, job.out.row(batch[k].index));
      } else if (job.error.empty()) {
        job.error = error;
      }
      if (--job.pending == 0) {
        if (job.error.empty()) apply(job.format, job.out);
        job.done.notify_one();
      }
    }
  }
}

void Batcher::stop() {
  std::lock_guard<std::mutex> lock(mutex_);
  stopping_ = true;
  work_.notify_one();
}

std::size_t Batcher::queued() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

}  // namespace simtune::serve

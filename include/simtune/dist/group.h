// The processes of one job. Alone (no mpirun) a job is this process and MPI is never touched;
// launched by `mpirun -np N`, the first Group::world() loads MPI (Open MPI, through the plugin
// libsimtune_mpi.so beside the simtune binary) and the job is N ranks that exchange data through
// the collectives below. Every collective is called by every rank in the same order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

namespace simtune::dist {

// Items [begin, end) of one rank when n items are split over `ranks` ranks as evenly as possible
// and in rank order: the first n % ranks ranks take one more.
struct Share {
  std::size_t begin = 0, end = 0;
  std::size_t size() const { return end - begin; }
};
Share share_of(std::size_t n, int rank, int ranks);

// True when mpirun started this process (Open MPI's or PMIx's environment), read without
// initialising MPI.
bool launched_by_mpirun();

class Group {
 public:
  // This job. Throws Error when launched by mpirun and MPI cannot be loaded or initialised.
  static Group& world();

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool root() const { return rank_ == 0; }
  Share share(std::size_t n) const { return share_of(n, rank_, size_); }

  // x[0..n) becomes the sum of every rank's x, added in rank order ((x0 + x1) + x2 ...) whatever
  // MPI's own reduction order would be, so the bits are the same on every rank and every run.
  // Moves what a ring allreduce moves: a reduce-scatter (each rank sums one slice) and an
  // allgather of the slices.
  void sum_in_rank_order(float* x, std::size_t n);
  // The same sum, started without waiting, so that it travels while the caller computes (the
  // next layer's gradients): x stays in use until finish_sums returns. Every rank starts the same
  // sums in the same order; each is the same bits as sum_in_rank_order's.
  void start_sum(float* x, std::size_t n);
  // Moves the started sums on without waiting (MPI moves non-blocking collectives only inside its
  // calls), starting the allgather of those whose slices have arrived.
  void progress_sums();
  // Returns once every started sum is complete.
  void finish_sums();
  // Every rank's `mine` into counts, in rank order.
  void all_counts(std::size_t mine, std::vector<std::size_t>& counts);
  // Every rank's `mine`, concatenated in rank order, into `all` on every rank; counts[r] is rank
  // r's size (from all_counts).
  void all_gather(std::span<const float> mine, const std::vector<std::size_t>& counts,
                  std::vector<float>& all);
  void all_gather(std::span<const std::int32_t> mine, const std::vector<std::size_t>& counts,
                  std::vector<std::int32_t>& all);
  // Every rank's `mine`, concatenated in rank order, into `all` on rank 0 (untouched elsewhere).
  void gather_to_root(std::span<const float> mine, std::vector<float>& all);
  // Returns once every rank has called it.
  void wait_for_all();

  // The end of the job, with the process's exit code: after success MPI is finalised; after a
  // failure every rank is stopped (MPI_Abort), so none waits forever for this one. Does nothing
  // when alone.
  void finish(int exit_code);

  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

 private:
  Group() = default;
  void connect();  // loads the plugin and initialises MPI
  template <class T>
  void all_gather_impl(std::span<const T> mine, const std::vector<std::size_t>& counts,
                       std::vector<T>& all, int type);
  // counts_ and displs_ from per-rank counts.
  std::size_t set_layout(const std::vector<std::size_t>& counts);

  // A started sum: its reduce-scatter (alltoallv), then its allgather, in flight.
  struct PendingSum {
    float* x = nullptr;
    Share mine;
    int request = 0;
    bool gathering = false, done = false;
    std::vector<int> send_counts, send_displs, counts, displs;
    std::vector<float> slices;  // every rank's copy of this rank's slice, in rank order
  };
  // Adds s's slices in rank order into x and starts the allgather of the sums.
  void gather_sums(PendingSum& s);

  bool started_ = false;
  const void* api_ = nullptr;  // the plugin's SimtuneMpiApi; null when alone
  int rank_ = 0, size_ = 1;
  // Per-call scratch, grown to the largest exchange and kept.
  std::vector<int> counts_, displs_;
  std::vector<std::int32_t> sizes_;
  // sums_[0, started_sums_) are this round's; the rest are kept for their buffers. A deque: MPI
  // holds pointers into the started ones while more are added.
  std::deque<PendingSum> sums_;
  std::size_t started_sums_ = 0;
};

}  // namespace simtune::dist

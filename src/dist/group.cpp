#include "simtune/dist/group.h"

#include <dlfcn.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "dist/mpi_abi.h"
#include "simtune/core/check.h"
#include "simtune/core/error.h"

namespace simtune::dist {
namespace {

namespace fs = std::filesystem;

const SimtuneMpiApi& mpi(const void* api) {
  return *static_cast<const SimtuneMpiApi*>(api);
}

int as_count(std::size_t n) {
  SIMTUNE_CHECK(n <= static_cast<std::size_t>(INT_MAX));
  return static_cast<int>(n);
}

// The plugin sits beside the file this code was linked into (the simtune binary, or the Python
// extension); SIMTUNE_MPI_PLUGIN names another.
fs::path plugin_path() {
  if (const char* env = std::getenv("SIMTUNE_MPI_PLUGIN"); env != nullptr && *env != '\0') {
    return env;
  }
  Dl_info info{};
  fs::path self;
  if (dladdr(reinterpret_cast<void*>(&plugin_path), &info) != 0 && info.dli_fname != nullptr &&
      std::string(info.dli_fname).find('/') != std::string::npos) {
    self = info.dli_fname;
  } else {
    self = fs::read_symlink("/proc/self/exe");
  }
  return self.parent_path() / kSimtuneMpiPlugin;
}

const SimtuneMpiApi* load_plugin() {
  const fs::path path = plugin_path();
  // Global, so that Open MPI's own components, which it loads later, see libmpi's symbols.
  void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (lib == nullptr) {
    const char* why = dlerror();
    throw Error("launched by mpirun, but the MPI plugin " + path.string() + " cannot be loaded (" +
                (why != nullptr ? why : "unknown reason") +
                "); build simtune with Open MPI installed (libopenmpi-dev), or set "
                "SIMTUNE_MPI_PLUGIN");
  }
  using Entry = const SimtuneMpiApi* (*)();
  auto entry = reinterpret_cast<Entry>(dlsym(lib, "simtune_mpi_api"));
  const SimtuneMpiApi* api = entry != nullptr ? entry() : nullptr;
  if (api == nullptr || api->abi_version != kSimtuneMpiAbi) {
    throw Error(path.string() + ": not an MPI plugin of this simtune version");
  }
  return api;
}

}  // namespace

Share share_of(std::size_t n, int rank, int ranks) {
  const auto r = static_cast<std::size_t>(rank), k = static_cast<std::size_t>(ranks);
  const std::size_t base = n / k, extra = n % k;
  const std::size_t begin = r * base + std::min(r, extra);
  return {begin, begin + base + (r < extra ? 1 : 0)};
}

bool launched_by_mpirun() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMIX_RANK") != nullptr;
}

Group& Group::world() {
  static Group group;
  if (!group.started_) {
    if (launched_by_mpirun()) group.connect();
    group.started_ = true;
  }
  return group;
}

void Group::connect() {
  const SimtuneMpiApi* api = load_plugin();
  char message[256] = "";
  if (api->init(&rank_, &size_, message, sizeof message) != 0) {
    throw Error(std::string("MPI: ") + message);
  }
  api_ = api;
}

void Group::sum_in_rank_order(float* x, std::size_t n) {
  start_sum(x, n);
  finish_sums();
}

void Group::start_sum(float* x, std::size_t n) {
  if (size_ == 1 || n == 0) return;
  const auto ranks = static_cast<std::size_t>(size_);
  if (sums_.size() == started_sums_) sums_.emplace_back();
  PendingSum& s = sums_[started_sums_++];
  s.x = x;
  s.mine = share(n);
  s.gathering = s.done = false;
  s.send_counts.resize(ranks);
  s.send_displs.resize(ranks);
  s.counts.resize(ranks);
  s.displs.resize(ranks);
  // Rank q sums slice q: every rank sends it its copy of that slice, and receives every rank's
  // copy of its own slice, rank r's at r * mine.size().
  for (std::size_t q = 0; q < ranks; q++) {
    const Share slice = share_of(n, static_cast<int>(q), size_);
    s.send_counts[q] = as_count(slice.size());
    s.send_displs[q] = as_count(slice.begin);
    s.counts[q] = as_count(s.mine.size());
    s.displs[q] = as_count(q * s.mine.size());
  }
  if (s.slices.size() < ranks * s.mine.size()) s.slices.resize(ranks * s.mine.size());
  s.request =
      mpi(api_).start_alltoallv(x, s.send_counts.data(), s.send_displs.data(), s.slices.data(),
                                s.counts.data(), s.displs.data(), kSimtuneMpiFloat);
}

void Group::gather_sums(PendingSum& s) {
  const std::size_t n = s.mine.size();
  float* out = s.x + s.mine.begin;
  for (std::size_t i = 0; i < n; i++) out[i] = s.slices[i];
  for (std::size_t r = 1; r < static_cast<std::size_t>(size_); r++) {
    const float* part = s.slices.data() + r * n;
    for (std::size_t i = 0; i < n; i++) out[i] += part[i];
  }
  // The summed slices back to every rank, each in place: the same layout as the slices sent.
  s.counts = s.send_counts;
  s.displs = s.send_displs;
  s.request = mpi(api_).start_allgatherv(s.x, s.counts.data(), s.displs.data(), kSimtuneMpiFloat);
  s.gathering = true;
}

void Group::progress_sums() {
  for (std::size_t i = 0; i < started_sums_; i++) {
    PendingSum& s = sums_[i];
    if (s.done) continue;
    const bool arrived = mpi(api_).test(s.request) != 0;
    if (s.gathering) {
      s.done = arrived;
      continue;
    }
    // The allgathers start in the order of the sums on every rank, as MPI wants: a later sum's
    // waits for this one's.
    if (!arrived) break;
    gather_sums(s);
  }
}

void Group::finish_sums() {
  for (std::size_t i = 0; i < started_sums_; i++) {
    PendingSum& s = sums_[i];
    if (s.gathering) continue;
    mpi(api_).wait(s.request);
    gather_sums(s);
  }
  for (std::size_t i = 0; i < started_sums_; i++) {
    if (!sums_[i].done) mpi(api_).wait(sums_[i].request);
  }
  started_sums_ = 0;
}

void Group::all_counts(std::size_t mine, std::vector<std::size_t>& counts) {
  const auto ranks = static_cast<std::size_t>(size_);
  counts.resize(ranks);
  if (size_ == 1) {
    counts[0] = mine;
    return;
  }
  counts_.assign(ranks, 1);
  displs_.resize(ranks);
  for (std::size_t q = 0; q < ranks; q++) displs_[q] = static_cast<int>(q);
  sizes_.resize(ranks);
  const std::int32_t my_size = as_count(mine);
  mpi(api_).allgatherv(&my_size, 1, sizes_.data(), counts_.data(), displs_.data(),
                       kSimtuneMpiInt32);
  for (std::size_t q = 0; q < ranks; q++) counts[q] = static_cast<std::size_t>(sizes_[q]);
}

std::size_t Group::set_layout(const std::vector<std::size_t>& counts) {
  SIMTUNE_CHECK(counts.size() == static_cast<std::size_t>(size_));
  counts_.resize(counts.size());
  displs_.resize(counts.size());
  std::size_t total = 0;
  for (std::size_t q = 0; q < counts.size(); q++) {
    counts_[q] = as_count(counts[q]);
    displs_[q] = as_count(total);
    total += counts[q];
  }
  return total;
}

template <class T>
void Group::all_gather_impl(std::span<const T> mine, const std::vector<std::size_t>& counts,
                            std::vector<T>& all, int type) {
  if (size_ == 1) {
    all.assign(mine.begin(), mine.end());
    return;
  }
  SIMTUNE_CHECK(counts[static_cast<std::size_t>(rank_)] == mine.size());
  all.resize(set_layout(counts));
  mpi(api_).allgatherv(mine.data(), as_count(mine.size()), all.data(), counts_.data(),
                       displs_.data(), type);
}

void Group::all_gather(std::span<const float> mine, const std::vector<std::size_t>& counts,
                       std::vector<float>& all) {
  all_gather_impl(mine, counts, all, kSimtuneMpiFloat);
}

void Group::all_gather(std::span<const std::int32_t> mine, const std::vector<std::size_t>& counts,
                       std::vector<std::int32_t>& all) {
  all_gather_impl(mine, counts, all, kSimtuneMpiInt32);
}

void Group::gather_to_root(std::span<const float> mine, std::vector<float>& all) {
  if (size_ == 1) {
    all.assign(mine.begin(), mine.end());
    return;
  }
  std::vector<std::size_t> counts;
  all_counts(mine.size(), counts);
  const std::size_t total = set_layout(counts);
  if (root()) all.resize(total);
  mpi(api_).gatherv(mine.data(), as_count(mine.size()), root() ? all.data() : nullptr,
                    counts_.data(), displs_.data(), kSimtuneMpiFloat, 0);
}

void Group::wait_for_all() {
  if (size_ == 1) return;
  // A gather of nothing: no rank's part arrives before every rank has sent it.
  std::vector<std::size_t> counts;
  all_counts(0, counts);
}

void Group::finish(int exit_code) {
  if (api_ == nullptr) return;
  if (exit_code != 0) mpi(api_).abort(exit_code);
  mpi(api_).finalize();
  api_ = nullptr;
}

}  // namespace simtune::dist

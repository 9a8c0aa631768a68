// The server's counters in Prometheus' text format (/metrics): requests by route and status,
// request durations, queue size, batch sizes in texts and tokens, tokens embedded and the rate
// the forward passes reach. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace simtune::serve {

// A cumulative histogram over fixed upper bounds.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // Prometheus lines for `name` (with _bucket, _sum, _count), `help` as its HELP line.
  void write(std::string& out, const std::string& name, const std::string& help) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // one per bound, plus +Inf
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();
  void request(const std::string& route, int status, double seconds);
  void batch(std::size_t texts, std::size_t tokens, double seconds);
  void set_queued(std::size_t texts);
  std::string prometheus(std::size_t in_flight) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;
  Histogram request_seconds_, batch_texts_, batch_tokens_, batch_seconds_;
  std::uint64_t tokens_ = 0;
  double compute_seconds_ = 0;
  std::size_t queued_ = 0;
};

}  // namespace simtune::serve

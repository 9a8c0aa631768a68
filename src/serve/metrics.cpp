#include "serve/metrics.h"

#include <algorithm>
#include <cstdio>

namespace simtune::serve {
namespace {

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void header(std::string& out, const std::string& name, const char* type, const std::string& help) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

std::vector<double> powers_of_two(double first, int count) {
  std::vector<double> b;
  for (int i = 0; i < count; i++) b.push_back(first * static_cast<double>(1u << i));
  return b;
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  counts_[static_cast<std::size_t>(it - bounds_.begin())]++;
  sum_ += value;
  count_++;
}

void Histogram::write(std::string& out, const std::string& name, const std::string& help) const {
  header(out, name, "histogram", help);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds_.size(); i++) {
    cumulative += counts_[i];
    const std::string le = i < bounds_.size() ? number(bounds_[i]) : "+Inf";
    out += name + "_bucket{le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += name + "_sum " + number(sum_) + "\n";
  out += name + "_count " + std::to_string(count_) + "\n";
}

Metrics::Metrics()
    : request_seconds_(powers_of_two(0.0005, 16)),  // 0.5 ms .. 16 s
      batch_texts_(powers_of_two(1, 12)),           // 1 .. 2048 texts
      batch_tokens_(powers_of_two(16, 12)),         // 16 .. 32768 tokens
      batch_seconds_(powers_of_two(0.0005, 16)) {}

void Metrics::request(const std::string& route, int status, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  requests_[{route, status}]++;
  request_seconds_.observe(seconds);
}

void Metrics::batch(std::size_t texts, std::size_t tokens, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  batch_texts_.observe(static_cast<double>(texts));
  batch_tokens_.observe(static_cast<double>(tokens));
  batch_seconds_.observe(seconds);
  tokens_ += tokens;
  compute_seconds_ += seconds;
}

void Metrics::set_queued(std::size_t texts) {
  std::lock_guard<std::mutex> lock(mutex_);
  queued_ = texts;
}

std::string Metrics::prometheus(std::size_t in_flight) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  header(out, "simtune_requests_total", "counter", "HTTP requests answered, by route and status");
  for (const auto& [key, count] : requests_) {
    out += "simtune_requests_total{route=\"" + key.first + "\",status=\"" +
           std::to_string(key.second) + "\"} " + std::to_string(count) + "\n";
  }
  request_seconds_.write(out, "simtune_request_duration_seconds",
                         "Time from routing a request to its answer");
  header(out, "simtune_requests_in_flight", "gauge", "Embedding requests being served");
  out += "simtune_requests_in_flight " + std::to_string(in_flight) + "\n";
  header(out, "simtune_queue_size", "gauge", "Texts waiting for a batch");
  out += "simtune_queue_size " + std::to_string(queued_) + "\n";
  batch_texts_.write(out, "simtune_batch_size", "Texts per forward pass");
  batch_tokens_.write(out, "simtune_batch_tokens", "Tokens per forward pass");
  batch_seconds_.write(out, "simtune_batch_duration_seconds", "Time of one forward pass");
  header(out, "simtune_tokens_total", "counter", "Tokens embedded");
  out += "simtune_tokens_total " + std::to_string(tokens_) + "\n";
  header(out, "simtune_compute_tokens_per_second", "gauge",
         "Tokens embedded per second of forward passes, since start");
  out += "simtune_compute_tokens_per_second " +
         number(compute_seconds_ > 0 ? static_cast<double>(tokens_) / compute_seconds_ : 0.0) +
         "\n";
  return out;
}

}  // namespace simtune::serve

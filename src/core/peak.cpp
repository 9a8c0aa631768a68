#include "simtune/core/peak.h"

#include <omp.h>

#include <atomic>
#include <chrono>

#include "core/peak.h"
#include "simtune/core/check.h"

namespace simtune {
namespace {

std::atomic<float> g_sink{0.0f};

double run(Isa isa, long iterations) {
  switch (isa) {
    case Isa::avx512:
      return isa_avx512::multiply_add_loop(iterations);
    case Isa::avx2:
      return isa_avx2::multiply_add_loop(iterations);
    case Isa::generic:
      return isa_generic::multiply_add_loop(iterations);
  }
  return 0;
}

}  // namespace

void peak_sink(float value) noexcept {
  g_sink.store(value, std::memory_order_relaxed);
}

PeakRate measure_peak(Isa isa, double seconds) {
  SIMTUNE_CHECK(cpu_supports(isa));
  // Calibrate on one thread, then time every thread running the same count at once.
  long iterations = 1 << 16;
  for (;;) {
    const auto t0 = std::chrono::steady_clock::now();
    run(isa, iterations);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (dt > seconds / 8 || iterations > (1l << 40)) {
      iterations = static_cast<long>(static_cast<double>(iterations) * seconds / dt);
      break;
    }
    iterations *= 4;
  }
  PeakRate rate{isa, 0, 0};
  double flops = 0;
  const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel reduction(+ : flops)
  {
    flops += run(isa, iterations);
#pragma omp single
    rate.threads = omp_get_num_threads();
  }
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  rate.gflops = flops / dt / 1e9;
  return rate;
}

}  // namespace simtune

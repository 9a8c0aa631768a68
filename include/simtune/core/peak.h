// The CPU's peak fp32 multiply-add rate, measured: every thread of the pool runs independent
// fused multiply-add chains in the widest registers an instruction set has. Benchmarks divide by
// it, so each figure is also a share of what the machine can physically do.
#pragma once

#include "simtune/core/cpu.h"

namespace simtune {

struct PeakRate {
  Isa isa;
  int threads = 0;
  double gflops = 0;  // all threads together
};

// Measures for about `seconds` on the pool's threads (set_num_threads).
PeakRate measure_peak(Isa isa, double seconds = 0.5);

}  // namespace simtune

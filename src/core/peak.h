// Per-instruction-set loops behind measure_peak (include/simtune/core/peak.h).
#pragma once

namespace simtune {

// Keeps a loop's result alive (defined in peak.cpp, outside the per-ISA copies).
void peak_sink(float value) noexcept;

#define SIMTUNE_DECLARE_PEAK(isa)                         \
  namespace isa {                                         \
  /* Runs `iterations` rounds; returns the flops done. */ \
  double multiply_add_loop(long iterations) noexcept;     \
  }
SIMTUNE_DECLARE_PEAK(isa_avx512)
SIMTUNE_DECLARE_PEAK(isa_avx2)
SIMTUNE_DECLARE_PEAK(isa_generic)
#undef SIMTUNE_DECLARE_PEAK

}  // namespace simtune

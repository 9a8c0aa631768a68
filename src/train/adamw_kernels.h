// AdamW's element-wise update, compiled once per instruction set (adamw_isa.cpp) so the pass over
// every parameter, memory-bound, runs on the widest vectors the CPU has. The file is built
// with -ffp-contract=off: each operation rounds as torch's does, so every path gives the same bits.
#pragma once

#include <cstddef>

namespace simtune {

struct AdamWUpdate {
  float* params;
  float* grads;  // zeroed as they are read
  float* m;
  float* v;
  float b1, b2, eps;
  float step_size;   // lr / (1 - b1^t)
  float bc2_sqrt;    // sqrt(1 - b2^t)
  float grad_scale;  // gradient clipping's factor
};

// adamw_update: params[i] *= keep, then the Adam step from grads, m and v over [begin, end);
// grads[begin, end) are left zero.
// adamw_first_update: the same where m and v are still zero (a row's first gradient); they are
// written without being read, so their untouched pages are never first mapped read-only (a
// later write would then cost a copy-on-write fault and a TLB shootdown on every core).
#define SIMTUNE_DECLARE_ADAMW(isa)                                                  \
  namespace isa {                                                                   \
  void adamw_update(const AdamWUpdate& u, std::size_t begin, std::size_t end,       \
                    float keep) noexcept;                                           \
  void adamw_first_update(const AdamWUpdate& u, std::size_t begin, std::size_t end, \
                          float keep) noexcept;                                     \
  }
SIMTUNE_DECLARE_ADAMW(isa_avx512)
SIMTUNE_DECLARE_ADAMW(isa_avx2)
SIMTUNE_DECLARE_ADAMW(isa_generic)
#undef SIMTUNE_DECLARE_ADAMW

}  // namespace simtune

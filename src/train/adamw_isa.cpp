// AdamW's update, compiled once per instruction set (see adamw_kernels.h).
#include <cmath>

#include "train/adamw_kernels.h"

namespace simtune::SIMTUNE_ISA_NS {
namespace {

// The same operations, in the same order, as torch 1.13's single-tensor AdamW. With
// kMomentsZero, m and v are taken as 0 without being read: 0 * b1 + x is x, bit for bit. Each
// gradient is zeroed once read, while its line is in cache, for the next batch to accumulate
// into (zeroing the buffer in a pass of its own cost 1% of a step).
template <bool kMomentsZero>
void update(const AdamWUpdate& u, std::size_t begin, std::size_t end, float keep) noexcept {
  float* __restrict p = u.params;
  float* __restrict g = u.grads;
  float* __restrict m = u.m;
  float* __restrict v = u.v;
  const float b1 = u.b1, b2 = u.b2, eps = u.eps, step_size = u.step_size;
  const float bc2_sqrt = u.bc2_sqrt, scale = u.grad_scale;
#pragma omp simd
  for (std::size_t i = begin; i < end; i++) {
    const float gi = g[i] * scale;
    g[i] = 0.0f;
    const float mi = (kMomentsZero ? 0.0f : m[i]) * b1 + gi * (1.0f - b1);
    const float vi = (kMomentsZero ? 0.0f : v[i]) * b2 + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const float denom = std::sqrt(vi) / bc2_sqrt + eps;
    p[i] = p[i] * keep + -step_size * (mi / denom);
  }
}

}  // namespace

void adamw_update(const AdamWUpdate& u, std::size_t begin, std::size_t end, float keep) noexcept {
  update<false>(u, begin, end, keep);
}

void adamw_first_update(const AdamWUpdate& u, std::size_t begin, std::size_t end,
                        float keep) noexcept {
  update<true>(u, begin, end, keep);
}

}  // namespace simtune::SIMTUNE_ISA_NS

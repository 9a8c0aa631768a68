// The CPU's peak multiply-add rate on one thread, per instruction set (compiled three times like
// gemm_isa.cpp): independent chains, enough of them to cover the instruction's latency on every
// execution port, so the loop runs at the port's throughput.
#include "core/peak.h"

#if defined(__AVX512F__) || defined(__AVX2__) || defined(__SSE2__)
#include <immintrin.h>
#endif

namespace simtune::SIMTUNE_ISA_NS {

double multiply_add_loop(long iterations) noexcept {
  constexpr int kChains = 12;
#if defined(__AVX512F__)
  using Vec = __m512;
  constexpr int kLanes = 16;
  auto step = [](Vec acc, Vec x, Vec y) { return _mm512_fmadd_ps(acc, x, y); };
  auto set = [](float v) { return _mm512_set1_ps(v); };
  auto store = [](float* p, Vec v) { _mm512_storeu_ps(p, v); };
#elif defined(__AVX2__) && defined(__FMA__)
  using Vec = __m256;
  constexpr int kLanes = 8;
  auto step = [](Vec acc, Vec x, Vec y) { return _mm256_fmadd_ps(acc, x, y); };
  auto set = [](float v) { return _mm256_set1_ps(v); };
  auto store = [](float* p, Vec v) { _mm256_storeu_ps(p, v); };
#else
  // The baseline has no fused multiply-add: a multiply and an add, two flops per lane.
  using Vec = __m128;
  constexpr int kLanes = 4;
  auto step = [](Vec acc, Vec x, Vec y) { return _mm_add_ps(_mm_mul_ps(acc, x), y); };
  auto set = [](float v) { return _mm_set1_ps(v); };
  auto store = [](float* p, Vec v) { _mm_storeu_ps(p, v); };
#endif
  // acc <- acc * 0.999 + 0.001 converges to 1: no overflow, no denormals.
  const Vec x = set(0.999f), y = set(0.001f);
  Vec acc[kChains];
  for (int j = 0; j < kChains; j++) acc[j] = set(static_cast<float>(j));
  for (long i = 0; i < iterations; i++) {
#pragma GCC unroll 12
    for (int j = 0; j < kChains; j++) acc[j] = step(acc[j], x, y);
  }
  float total = 0.0f;
  for (int j = 0; j < kChains; j++) {
    float lanes[kLanes];
    store(lanes, acc[j]);
    for (float v : lanes) total += v;
  }
  // Returned so the loop is not optimised away; the caller only checks it is finite.
  peak_sink(total);
  return 2.0 * kChains * kLanes * static_cast<double>(iterations);
}

}  // namespace simtune::SIMTUNE_ISA_NS

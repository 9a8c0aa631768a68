// The one matrix-product kernel behind every product simtune computes (matmul.h), compiled once
// per instruction set (gemm_isa.cpp, built three times) and picked at run time (cpu.h).
#pragma once

#include <cstddef>

#include "simtune/core/matmul.h"

namespace simtune {

// Column panel width of packed operands, the same for every instruction set so a packed matrix
// is valid whatever path runs.
constexpr int kPanel = 32;

// c (M, N) (+)= a (M, K) . b (K, N).
// a(m, k) = a[m * a_rs + k * a_ks]: row-major (a_ks = 1) or transposed (a_rs = 1), nothing else.
// b, as b_layout says: packed panels, b(k, n) = b[(n / kPanel) * b_panel + k * b_ks + n % kPanel]
//   (b_panel = K * kPanel, b_ks = kPanel, zero-padded to a whole panel); a row-major (K, N)
//   matrix, b(k, n) = b[k * b_ks + n] (b_ks its row length); or a row-major (N, K) matrix read
//   transposed, b(k, n) = b[n * b_ks + k] (b_ks its row length: a Linear weight as stored).
// Every element of c is one multiply-add chain over k in order (a fused multiply-add where the
// instruction set has one), whatever M, the element's row and the thread count: products are
// reproducible and a row's result does not depend on the other rows.
struct GemmArgs {
  float* c;
  std::ptrdiff_t ldc;
  const float* a;
  std::ptrdiff_t a_rs, a_ks;
  const float* b;
  std::ptrdiff_t b_panel, b_ks;
  int M, N, K;
  bool accumulate;  // c += instead of c =
  // Packed panels are read in place; the other two layouts are copied slice by slice into a
  // padded buffer (transposed for BLayout::transposed).
  enum class BLayout { panels, rows, transposed } b_layout;
  const TileEpilogue* epilogue = nullptr;  // on each block of c once its last k-block is done
};

// The most products one gemm call runs together.
constexpr int kMaxProducts = 2;

// Runs products[0..count) (count <= kMaxProducts) in one parallel region.
#define SIMTUNE_DECLARE_GEMM(isa)                          \
  namespace isa {                                          \
  void gemm(const GemmArgs* products, int count) noexcept; \
  }
SIMTUNE_DECLARE_GEMM(isa_avx512)
SIMTUNE_DECLARE_GEMM(isa_avx2)
SIMTUNE_DECLARE_GEMM(isa_generic)
#undef SIMTUNE_DECLARE_GEMM

// Runs g, or several products in one parallel region (the threads woken once for all), on the
// active instruction set's kernel.
void gemm(const GemmArgs& g) noexcept;
void gemm(const GemmArgs* products, int count) noexcept;

}  // namespace simtune

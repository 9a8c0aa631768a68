// simtune's matrix products, one per role in a Linear layer, all on one hand-written kernel
// (src/core/gemm_isa.cpp) that runs on the CPU's best instruction set (cpu.h). Every output
// element is one multiply-add chain over k in a fixed order, so results depend neither on the
// thread count nor on the other rows of the batch: a sentence embeds bit-identically alone and
// in any batch, and training is reproducible. (OpenBLAS picks different kernels for different
// row counts and positions, which changes the last bits, and its speed depends on how well it
// recognises the CPU; it remains only as a reference in bench and tests, blas.h.)
#pragma once

#include <cstddef>
#include <memory>

namespace simtune {

// A Linear layer's weight w (OC, C) as the forward product reads it: a copy packed into column
// panels (inference packs each weight once, when a model is loaded), or w itself, in place
// (training, whose weights change at every step: the product transposes the slices it needs as
// it goes, where packing a copy first cost a pass over every weight, 4% of a step). Both give
// the same bits.
class PackedMatrix {
 public:
  PackedMatrix() = default;
  PackedMatrix(const float* w, int OC, int C);
  // w read in place; it must outlive the result.
  static PackedMatrix in_place(const float* w, int OC, int C);

  int out_features() const { return OC_; }
  int in_features() const { return C_; }
  // The packed panels, or null in place.
  const float* data() const { return data_.get(); }
  // w in place, or null when packed.
  const float* rows() const { return rows_; }

 private:
  struct Free {
    void operator()(float* p) const noexcept;
  };
  std::unique_ptr<float[], Free> data_;
  const float* rows_ = nullptr;
  int OC_ = 0, C_ = 0;
};

// Work on a finished block of a product's output (rows [m0, m0 + rows), columns [n0, n0 + cols)
// of out, at `block` with row stride ld), run by the thread that computed it while the block is
// still in its cache: element-wise work after a product (bias, activation) costs no pass over
// memory of its own.
struct TileEpilogue {
  void (*apply)(const void* ctx, float* block, std::ptrdiff_t ld, int m0, int rows, int n0,
                int cols) noexcept;
  const void* ctx;
};

// out (N, OC) = inp (N, C) . w^T: a Linear layer's forward, without bias; then `epilogue`, when
// given, on every block of out.
void matmul_packed(float* out, const float* inp, const PackedMatrix& w, int N,
                   const TileEpilogue* epilogue = nullptr) noexcept;
// Whether a gradient product writes its result over what the buffer holds, or adds to it (an
// activation with two paths back to it: the second adds to what the first wrote). Writing saves
// zeroing the buffer first, a pass over memory and a parallel region.
enum class Into { write, add };

// dinp (N, C) = or += dout (N, OC) . w (OC, C): the input gradient.
void matmul_dinp(float* dinp, const float* dout, const float* w, int N, int C, int OC,
                 Into into) noexcept;
// dw (OC, C) += dout^T (OC, N) . inp (N, C): the weight gradient, a chain over the N tokens.
void matmul_dweight(float* dw, const float* dout, const float* inp, int N, int C, int OC) noexcept;
// matmul_dinp and matmul_dweight together, bit for bit, in one parallel region: the threads are
// woken once for both.
void matmul_backward(float* dinp, float* dw, const float* dout, const float* inp, const float* w,
                     int N, int C, int OC, Into into) noexcept;

}  // namespace simtune

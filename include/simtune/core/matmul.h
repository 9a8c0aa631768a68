// simtune's matrix products, one per role in a Linear layer, all on one hand-written kernel
// (src/core/gemm_isa.cpp) that runs on the CPU's best instruction set (cpu.h). Every output
// element is one multiply-add chain over k in a fixed order, so results depend neither on the
// thread count nor on the other rows of the batch: a sentence embeds bit-identically alone and
// in any batch, and training is reproducible. (OpenBLAS picks different kernels for different
// row counts and positions, which changes the last bits, and its speed depends on how well it
// recognises the CPU; it remains only as a reference in bench and tests, blas.h.)
#pragma once

#include <cstddef>
#include <initializer_list>
#include <memory>

namespace simtune {

// A Linear layer's weight w (OC, C), packed once into column panels for the forward product.
class PackedMatrix {
 public:
  PackedMatrix() = default;
  PackedMatrix(const float* w, int OC, int C);
  // Packs new values of a weight with the same shape (training: after every update), without
  // allocating.
  void repack(const float* w) noexcept;
  // The same for several matrices in one parallel region: training repacks a layer's four as the
  // layer runs, one wake-up of the threads instead of four.
  struct Update {
    PackedMatrix* matrix;
    const float* w;
  };
  static void repack(std::initializer_list<Update> updates) noexcept;

  int out_features() const { return OC_; }
  int in_features() const { return C_; }
  const float* data() const { return data_.get(); }

 private:
  struct Free {
    void operator()(float* p) const noexcept;
  };
  int panels() const;
  void pack_panel(int j, const float* w) noexcept;
  std::unique_ptr<float[], Free> data_;
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

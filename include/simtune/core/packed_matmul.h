// The inference matrix product, hand-written so that results are reproducible: every output
// element is one fused multiply-add chain over k in order, so a row's result depends only on
// that row and the weights — not on how many rows the batch has, where the row sits in it, or
// how many threads run. (OpenBLAS picks different kernels for different row counts and
// positions, which changes the last bits.) Weights are packed once, when a model is loaded.
#pragma once

#include <cstddef>
#include <memory>

namespace simtune {

class PackedMatrix {
 public:
  PackedMatrix() = default;
  // w (OC, C) row-major, as a Linear layer's weight.
  PackedMatrix(const float* w, int OC, int C);

  int out_features() const { return OC_; }
  int in_features() const { return C_; }
  const float* panel(int block) const {
    return data_.get() + static_cast<std::size_t>(block) * C_ * kWidth;
  }

  // Output features per panel: two vector registers (AVX-512: 16 floats each, else 8).
#if defined(__AVX512F__)
  static constexpr int kWidth = 32;
#else
  static constexpr int kWidth = 16;
#endif

 private:
  struct Free {
    void operator()(float* p) const noexcept;
  };
  std::unique_ptr<float[], Free> data_;
  int OC_ = 0, C_ = 0;
};

// out (N, OC) = inp (N, C) . W^T.
void matmul_packed(float* out, const float* inp, const PackedMatrix& w, int N) noexcept;

}  // namespace simtune

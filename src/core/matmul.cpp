#include "simtune/core/matmul.h"

#include <cstdlib>
#include <new>

#include "core/gemm.h"
#include "simtune/core/cpu.h"

namespace simtune {

void gemm(const GemmArgs* products, int count) noexcept {
  // active_isa() was settled (and any SIMTUNE_ISA error reported) before the first kernel ran.
  static const Isa isa = active_isa();
  switch (isa) {
    case Isa::avx512:
      return isa_avx512::gemm(products, count);
    case Isa::avx2:
      return isa_avx2::gemm(products, count);
    case Isa::generic:
      return isa_generic::gemm(products, count);
  }
}

void gemm(const GemmArgs& g) noexcept {
  gemm(&g, 1);
}

void PackedMatrix::Free::operator()(float* p) const noexcept {
  std::free(p);
}

PackedMatrix::PackedMatrix(const float* w, int OC, int C) : OC_(OC), C_(C) {
  const std::size_t panels = static_cast<std::size_t>((OC + kPanel - 1) / kPanel);
  const std::size_t bytes = panels * static_cast<std::size_t>(C) * kPanel * sizeof(float);
  data_.reset(static_cast<float*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
  if (!data_) throw std::bad_alloc();
  float* d = data_.get();
#pragma omp parallel for schedule(static)
  for (int j = 0; j < static_cast<int>(panels); j++) {
    float* panel = d + static_cast<std::size_t>(j) * C * kPanel;
    for (int k = 0; k < C; k++) {
      for (int t = 0; t < kPanel; t++) {
        const int oc = j * kPanel + t;
        panel[k * kPanel + t] = oc < OC ? w[static_cast<std::size_t>(oc) * C + k] : 0.0f;
      }
    }
  }
}

PackedMatrix PackedMatrix::in_place(const float* w, int OC, int C) {
  PackedMatrix m;
  m.rows_ = w;
  m.OC_ = OC;
  m.C_ = C;
  return m;
}

void matmul_packed(float* out, const float* inp, const PackedMatrix& w, int N,
                   const TileEpilogue* epilogue) noexcept {
  const int OC = w.out_features(), C = w.in_features();
  if (w.rows() != nullptr) {
    gemm({out, OC, inp, C, 1, w.rows(), 0, C, N, OC, C, false, GemmArgs::BLayout::transposed,
          epilogue});
    return;
  }
  gemm({out, OC, inp, C, 1, w.data(), static_cast<std::ptrdiff_t>(C) * kPanel, kPanel, N, OC, C,
        false, GemmArgs::BLayout::panels, epilogue});
}

namespace {

GemmArgs dinp_product(float* dinp, const float* dout, const float* w, int N, int C, int OC,
                      Into into) noexcept {
  return {dinp, C, dout, OC, 1, w, kPanel, C, N, C, OC, into == Into::add, GemmArgs::BLayout::rows};
}

GemmArgs dweight_product(float* dw, const float* dout, const float* inp, int N, int C,
                         int OC) noexcept {
  return {dw, C, dout, 1, OC, inp, kPanel, C, OC, C, N, true, GemmArgs::BLayout::rows};
}

}  // namespace

void matmul_dinp(float* dinp, const float* dout, const float* w, int N, int C, int OC,
                 Into into) noexcept {
  gemm(dinp_product(dinp, dout, w, N, C, OC, into));
}

void matmul_dweight(float* dw, const float* dout, const float* inp, int N, int C, int OC) noexcept {
  gemm(dweight_product(dw, dout, inp, N, C, OC));
}

void matmul_backward(float* dinp, float* dw, const float* dout, const float* inp, const float* w,
                     int N, int C, int OC, Into into) noexcept {
  const GemmArgs products[] = {dinp_product(dinp, dout, w, N, C, OC, into),
                               dweight_product(dw, dout, inp, N, C, OC)};
  gemm(products, 2);
}

}  // namespace simtune

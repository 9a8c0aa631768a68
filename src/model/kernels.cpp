#include "simtune/model/kernels.h"

#include "model/kernel_table.h"
#include "simtune/core/cpu.h"

namespace simtune {
namespace {

const KernelTable& kernels() {
  // active_isa() was settled (and any SIMTUNE_ISA error reported) before the first kernel ran.
  static const KernelTable& table = active_isa() == Isa::avx512 ? isa_avx512::kKernels
                                    : active_isa() == Isa::avx2 ? isa_avx2::kKernels
                                                                : isa_generic::kKernels;
  return table;
}

}  // namespace

void embeddings_forward(float* out, const std::int32_t* ids, const std::int32_t* positions,
                        const float* wte, const float* wpe, const float* wtt, int N,
                        int C) noexcept {
  kernels().embeddings_forward(out, ids, positions, wte, wpe, wtt, N, C);
}

void embeddings_backward(float* dwte, float* dwpe, float* dwtt, const float* dout,
                         const std::int32_t* ids, const std::int32_t* positions, int N,
                         int C) noexcept {
  kernels().embeddings_backward(dwte, dwpe, dwtt, dout, ids, positions, N, C);
}

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int N, int C, float eps) noexcept {
  kernels().layernorm_forward(out, mean, rstd, inp, weight, bias, N, C, eps);
}

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                        const float* inp, const float* weight, const float* mean, const float* rstd,
                        int N, int C) noexcept {
  kernels().layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
}

void dropout_masks(const DropoutDraw* draws, int count) noexcept {
  kernels().dropout_masks(draws, count);
}

void dropout_apply(float* x, const float* mask, std::int64_t n) noexcept {
  kernels().dropout_apply(x, mask, n);
}

void linear_forward(float* out, const float* inp, const PackedMatrix& weight, const float* bias,
                    int N) noexcept {
  kernels().linear_forward(out, inp, weight, bias, N);
}

void linear_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int N, int C, int OC, Into into) noexcept {
  kernels().linear_backward(dinp, dweight, dbias, dout, inp, weight, N, C, OC, into);
}

void attention_forward(float* ctx, float* probs, const float* qkv, const float* dropout,
                       SeqSpans spans, const std::int64_t* probs_offsets, int NH, int C) noexcept {
  kernels().attention_forward(ctx, probs, qkv, dropout, spans, probs_offsets, NH, C);
}

void attention_backward(float* dqkv, float* dprobs, const float* dctx, const float* qkv,
                        const float* probs, const float* dropout, SeqSpans spans,
                        const std::int64_t* probs_offsets, int NH, int C) noexcept {
  kernels().attention_backward(dqkv, dprobs, dctx, qkv, probs, dropout, spans, probs_offsets, NH,
                               C);
}

std::int64_t attention_probs_offsets(std::int64_t* offsets, SeqSpans spans, int NH) noexcept {
  return kernels().attention_probs_offsets(offsets, spans, NH);
}

void bias_residual_layernorm_forward(float* out, float* mean, float* rstd, float* x,
                                     const float* bias, const float* dropout, const float* residual,
                                     const float* weight, const float* ln_bias, int N, int C,
                                     float eps) noexcept {
  kernels().bias_residual_layernorm_forward(out, mean, rstd, x, bias, dropout, residual, weight,
                                            ln_bias, N, C, eps);
}

void bias_residual_layernorm_backward(float* dresidual, float* ddense, float* dbias, float* dweight,
                                      float* dln_bias, const float* dout, const float* x,
                                      const float* mean, const float* rstd, const float* dropout,
                                      const float* weight, int N, int C) noexcept {
  kernels().bias_residual_layernorm_backward(dresidual, ddense, dbias, dweight, dln_bias, dout, x,
                                             mean, rstd, dropout, weight, N, C);
}

void linear_gelu_forward(float* out, float* x, const float* inp, const PackedMatrix& weight,
                         const float* bias, int N) noexcept {
  kernels().linear_gelu_forward(out, x, inp, weight, bias, N);
}

void bias_gelu_backward(float* dinp, float* dbias, const float* dout, const float* x, int N,
                        int C) noexcept {
  kernels().bias_gelu_backward(dinp, dbias, dout, x, N, C);
}

void gelu_recompute(float* out, const float* x, std::int64_t n) noexcept {
  kernels().gelu_recompute(out, x, n);
}

float gelu(float x) noexcept {
  return kernels().gelu(x);
}

float gelu_grad(float x) noexcept {
  return kernels().gelu_grad(x);
}

}  // namespace simtune

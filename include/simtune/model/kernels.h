// BERT's layers as free functions over packed token rows (llm.c style): outputs first, then
// saved activations, then inputs, then weights, then dimensions. N is the number of real tokens
// in the batch (all sequences packed back to back, no padding); C the hidden size.
// Kernels never allocate and never throw. They run their own OpenMP loops, so call them from
// outside any parallel region.
#pragma once

#include <cstdint>

namespace simtune {

// Sequence b occupies rows [offsets[b], offsets[b+1]) of every packed (N, ...) tensor.
struct SeqSpans {
  const std::int32_t* offsets;  // B + 1 entries, offsets[0] == 0
  int B;
};

// out (N,C) = wte[ids] + wpe[positions] + wtt[0] (token_type_ids are all 0, as
// sentence-transformers passes none). BertEmbeddings' sum, before its LayerNorm.
void embeddings_forward(float* out, const std::int32_t* ids, const std::int32_t* positions,
                        const float* wte, const float* wpe, const float* wtt, int N,
                        int C) noexcept;
// dwte/dwpe rows of the ids/positions seen, and dwtt row 0, += dout (N,C).
void embeddings_backward(float* dwte, float* dwpe, float* dwtt, const float* dout,
                         const std::int32_t* ids, const std::int32_t* positions, int N,
                         int C) noexcept;

// out (N,C) = LayerNorm(inp) with weight/bias (C); saves mean, rstd (N) for backward.
void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int N, int C, float eps) noexcept;
// dinp (N,C), dweight, dbias (C) += gradients of layernorm_forward given dout.
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                        const float* inp, const float* weight, const float* mean, const float* rstd,
                        int N, int C) noexcept;

// x (N,C) = dropout(x + bias) + residual, then out = LayerNorm(x): BertSelfOutput / BertOutput
// after their dense. x keeps the pre-norm sum, which is what layernorm backward needs.
// dropout (N,C) holds 0 or 1/(1-p) per element, or is null for none (inference).
void bias_residual_layernorm_forward(float* out, float* mean, float* rstd, float* x,
                                     const float* bias, const float* dropout, const float* residual,
                                     const float* weight, const float* ln_bias, int N, int C,
                                     float eps) noexcept;

// x (n) *= mask (n): dropout with a precomputed mask; being linear, it is its own backward.
void dropout_apply(float* x, const float* mask, std::int64_t n) noexcept;

// x (N,OC) += bias (OC).
void bias_forward(float* x, const float* bias, int N, int OC) noexcept;
// dbias (OC) += column sums of dout (N,OC).
void bias_backward(float* dbias, const float* dout, int N, int OC) noexcept;

// A Linear layer's input and weight gradients (its bias: bias_backward):
// dinp (N,C) += dout (N,OC) . w (OC,C);  dw (OC,C) += dout^T . inp (N,C).
void matmul_backward(float* dinp, float* dw, const float* dout, const float* inp, const float* w,
                     int N, int C, int OC) noexcept;

// x (N,C) += bias, out = gelu(x) with the exact erf GELU (hidden_act "gelu"); x keeps the
// pre-activation for backward.
void bias_gelu_forward(float* out, float* x, const float* bias, int N, int C) noexcept;
// out (n) = gelu(x): bias_gelu_forward's activation again, bit for bit, from its saved x.
void gelu_forward(float* out, const float* x, std::int64_t n) noexcept;
// dx (N,C) += dout * gelu'(x) for the pre-activation x; the bias gradient is bias_backward(dx).
void gelu_backward(float* dx, const float* x, const float* dout, int N, int C) noexcept;

// Multi-head self-attention of each sequence on itself (so no padding mask is needed).
// ctx (N,C): heads concatenated, as BertSelfAttention returns them.
// probs: softmax(q k^T / sqrt(HS)) per sequence and head, sequence b's NH*L*L block at
//   probs_offsets[b] (see attention_probs_offsets).
// qkv (N,3C): query | key | value rows from the fused projection (bias added).
// dropout: null, or a mask laid out like probs applied to the probabilities before they weigh
//   the values (BertSelfAttention's attention_probs dropout); probs keeps the undropped ones.
void attention_forward(float* ctx, float* probs, const float* qkv, const float* dropout,
                       SeqSpans spans, const std::int64_t* probs_offsets, int NH, int C) noexcept;

// dqkv (N,3C) += gradients of attention_forward given dctx (N,C). dprobs is scratch laid out
// like probs (its content is overwritten).
void attention_backward(float* dqkv, float* dprobs, const float* dctx, const float* qkv,
                        const float* probs, const float* dropout, SeqSpans spans,
                        const std::int64_t* probs_offsets, int NH, int C) noexcept;

// Fills offsets[B+1] for attention_forward's probs and returns the floats needed.
std::int64_t attention_probs_offsets(std::int64_t* offsets, SeqSpans spans, int NH) noexcept;

// erf-exact GELU of one value and its derivative, vectorisable (used by the kernels and tests).
float gelu(float x) noexcept;
float gelu_grad(float x) noexcept;

}  // namespace simtune

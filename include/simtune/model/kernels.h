// BERT's layers as free functions over packed token rows (llm.c style): outputs first, then
// saved activations, then inputs, then weights, then dimensions. N is the number of real tokens
// in the batch (all sequences packed back to back, no padding), T one sequence's length, C the
// hidden size. Each *_forward has its *_backward beside it, which accumulates (+=) into its
// gradients, except where its comment says a gradient is written.
// Kernels never allocate and never throw. They run their own OpenMP loops, so call them from
// outside any parallel region. Each runs on the CPU's best instruction set (core/cpu.h):
// kernels_isa.cpp is compiled once per set and these functions forward to the running one.
#pragma once

#include <cstdint>

#include "simtune/core/matmul.h"  // PackedMatrix, Into

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
// Gradients of layernorm_forward given dout: dinp (N,C) written; dweight, dbias (C) +=.
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                        const float* inp, const float* weight, const float* mean, const float* rstd,
                        int N, int C) noexcept;

// mask (n): 0 with probability p, else 1 / (1 - p) (inverted dropout, as torch scales). Element
// i is a function of (key, i) alone (core/rng.h's splitmix64, 24 bits against p), so the threads
// split the work and a key gives the same mask on every thread count and instruction set.
struct DropoutDraw {
  float* mask;
  std::int64_t n;
  float p;
  std::uint64_t key;
};
// Draws `count` masks in one parallel region: a forward draws every layer's at once, waking the
// threads once instead of once a mask.
void dropout_masks(const DropoutDraw* draws, int count) noexcept;

// x (n) *= mask (n): dropout with a precomputed mask; being linear, it is its own backward.
void dropout_apply(float* x, const float* mask, std::int64_t n) noexcept;

// A Linear layer: out (N,OC) = inp (N,C) . weight (OC,C)^T + bias (OC), or no bias when null;
// the weight as the product reads it (core/matmul.h: packed once for inference, in place for
// training).
// A row's result does not depend on the other rows.
void linear_forward(float* out, const float* inp, const PackedMatrix& weight, const float* bias,
                    int N) noexcept;
// dinp (N,C) = or += (`into`) dout (N,OC) . weight;  dweight (OC,C) += dout^T . inp;  dbias (OC)
// += column sums of dout, when not null.
void linear_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int N, int C, int OC, Into into) noexcept;

// Multi-head self-attention of each sequence on itself (so no padding mask is needed).
// ctx (N,C): heads concatenated, as BertSelfAttention returns them.
// probs: softmax(q k^T / sqrt(HS)) per sequence and head, sequence b's NH*T*T block at
//   probs_offsets[b] (see attention_probs_offsets).
// qkv (N,3C): query | key | value rows from the fused projection (bias added).
// dropout: null, or a mask laid out like probs applied to the probabilities before they weigh
//   the values (BertSelfAttention's attention_probs dropout); probs keeps the undropped ones.
void attention_forward(float* ctx, float* probs, const float* qkv, const float* dropout,
                       SeqSpans spans, const std::int64_t* probs_offsets, int NH, int C) noexcept;

// dqkv (N,3C) = gradients of attention_forward given dctx (N,C): written, not accumulated (no
// other product feeds the fused projection's output). dprobs is scratch laid out like probs
// (its content is overwritten).
void attention_backward(float* dqkv, float* dprobs, const float* dctx, const float* qkv,
                        const float* probs, const float* dropout, SeqSpans spans,
                        const std::int64_t* probs_offsets, int NH, int C) noexcept;

// Fills offsets[B+1] for attention_forward's probs and returns the floats needed.
std::int64_t attention_probs_offsets(std::int64_t* offsets, SeqSpans spans, int NH) noexcept;

// x (N,C) = dropout(x + bias) + residual, then out = LayerNorm(x): BertSelfOutput / BertOutput
// after their dense. x keeps the pre-norm sum, which is what layernorm backward needs.
// dropout (N,C) holds 0 or 1/(1-p) per element, or is null for none (inference).
void bias_residual_layernorm_forward(float* out, float* mean, float* rstd, float* x,
                                     const float* bias, const float* dropout, const float* residual,
                                     const float* weight, const float* ln_bias, int N, int C,
                                     float eps) noexcept;
// dout (N,C); x (N,C), mean, rstd (N) as forward left them; weight (C). With dx the gradient of
// the pre-norm sum x: dresidual (N,C) = dx; ddense (N,C) = dx * dropout, the dense output's
// gradient; dbias (C) += column sums of ddense; dweight, dln_bias (C) += the LayerNorm's.
// ddense is written, not accumulated: nothing else feeds the dense output, and the bias gradient
// is its column sum, which must see this gradient alone. dresidual is written too, as the first
// of its two paths back (the sublayer's input product adds the other: linear_backward's
// Into::add). dresidual must not alias dout.
void bias_residual_layernorm_backward(float* dresidual, float* ddense, float* dbias, float* dweight,
                                      float* dln_bias, const float* dout, const float* x,
                                      const float* mean, const float* rstd, const float* dropout,
                                      const float* weight, int N, int C) noexcept;

// The intermediate dense layer and its activation: x (N,OC) = inp (N,C) . weight^T + bias, the
// pre-activation kept for backward, and out (N,OC) = gelu(x) with the exact erf GELU (hidden_act
// "gelu"). Bias and GELU run on each block of the product as it is finished, while it is in
// cache (a separate pass over x cost 9% of encode).
void linear_gelu_forward(float* out, float* x, const float* inp, const PackedMatrix& weight,
                         const float* bias, int N) noexcept;
// x (N,C) as linear_gelu_forward left it. dinp (N,C) = dout (N,C) * gelu'(x), written like ddense
// of bias_residual_layernorm_backward and for the same reason; dbias (C) += its column sums.
void bias_gelu_backward(float* dinp, float* dbias, const float* dout, const float* x, int N,
                        int C) noexcept;
// out (n) = gelu(x): linear_gelu_forward's out again, bit for bit, from its saved x, for a backward
// that does not keep out.
void gelu_recompute(float* out, const float* x, std::int64_t n) noexcept;

// erf-exact GELU of one value and its derivative, vectorisable (used by the kernels and tests).
float gelu(float x) noexcept;
float gelu_grad(float x) noexcept;

}  // namespace simtune

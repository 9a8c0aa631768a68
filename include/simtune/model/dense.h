// sentence-transformers' Dense module over sentence embeddings (rows, not tokens):
// out = activation(x . weight^T + bias). Forward and backward side by side, as the kernels.
#pragma once

#include "simtune/io/model_files.h"

namespace simtune {

// Pointers to one Dense module's tensors inside a flat buffer.
struct DenseWeights {
  float* weight;  // (out, in)
  float* bias;    // (out), null when the module has none
};

// pre (B, out) = x (B, in) . weight^T + bias, kept for backward; y (B, out) = act(pre).
// A row's result does not depend on the other rows.
void dense_forward(float* y, float* pre, const float* x, const DenseWeights& w,
                   const DenseConfig& config, int B) noexcept;
// The gradients of dense_forward given dy (B, out): dx (B, in) written, the weight and bias
// gradients in `dw` +=; dpre (B, out) is scratch (written).
void dense_backward(float* dx, const DenseWeights& dw, float* dpre, const float* dy,
                    const float* pre, const float* x, const DenseWeights& w,
                    const DenseConfig& config, int B) noexcept;

}  // namespace simtune

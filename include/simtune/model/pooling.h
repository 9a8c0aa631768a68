// sentence-transformers' Pooling module (models/Pooling.py) and Normalize, over packed tokens.
// Outside the model on purpose: the model returns token states, pooling turns them into one
// vector per sentence.
#pragma once

#include "simtune/io/model_files.h"
#include "simtune/model/kernels.h"

namespace simtune {

// out (B, config.output_dimension()): the enabled modes of each sequence's hidden (N,C) rows,
// concatenated in sentence-transformers' order cls, max, mean, mean_sqrt_len, weightedmean,
// lasttoken. Every sequence has at least one token ([CLS] and [SEP] are always present).
// skip: leading tokens of each sequence left out (a prompt's, when the Pooling module has
// include_prompt=false), as sentence-transformers 6 masks them; 0 pools every token.
void pooling_forward(float* out, const float* hidden, SeqSpans spans, int C,
                     const PoolingConfig& config, int skip = 0) noexcept;
// dhidden (N,C) += gradient of pooling_forward (skip 0) given dout (B, D); hidden picks max's
// argmax.
void pooling_backward(float* dhidden, const float* dout, const float* hidden, SeqSpans spans, int C,
                      const PoolingConfig& config) noexcept;

// Each of the B rows of x (B, D) divided by max(||row||, 1e-12), as torch's F.normalize.
void normalize_forward(float* x, int B, int D) noexcept;
// dx (B,D) += gradient of y = x / max(||x||, 1e-12) given dy, from the input x.
void normalize_backward(float* dx, const float* dy, const float* x, int B, int D) noexcept;

}  // namespace simtune

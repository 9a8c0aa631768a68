// BertModel's forward pass (Hugging Face modeling_bert.BertModel without the pooler) over a
// packed batch: every sequence's tokens back to back, so matrix products see only real tokens.
#pragma once

#include <cstdint>
#include <vector>

#include "model/kernels.h"
#include "model/params.h"

namespace simtune {

// Token ids of several sequences packed back to back.
struct PackedBatch {
  std::vector<std::int32_t> ids;        // N
  std::vector<std::int32_t> positions;  // N, 0..L-1 within each sequence
  std::vector<std::int32_t> offsets;    // B + 1

  void clear();
  void add(const std::vector<std::int32_t>& sequence_ids);
  int tokens() const { return static_cast<int>(ids.size()); }
  int sequences() const { return static_cast<int>(offsets.size()) - 1; }
  SeqSpans spans() const { return {offsets.data(), sequences()}; }
};

// Named activation slots of one encoder layer (BertLayer), each (N, ...) over packed tokens.
struct LayerActivations {
  float* qkv;       // (N, 3C) fused query/key/value projection, bias added
  float* probs;     // attention probabilities, per sequence NH*L*L
  float* ctx;       // (N, C) attention context, heads concatenated
  float* attn_sum;  // (N, C) attention.output.dense + bias + residual, pre-LayerNorm
  float* ln1;       // (N, C) attention.output.LayerNorm
  float* ln1_mean;  // (N)
  float* ln1_rstd;  // (N)
  float* fc_pre;    // (N, I) intermediate.dense + bias, pre-GELU
  float* fc;        // (N, I) GELU
  float* out_sum;   // (N, C) output.dense + bias + residual, pre-LayerNorm
  float* ln2;       // (N, C) output.LayerNorm: the layer's output
  float* ln2_mean;  // (N)
  float* ln2_rstd;  // (N)
};

// One arena for every activation, grown only when a batch needs more than any before it.
// Inference keeps one layer's slots and reuses them for every layer; training (later) keeps all.
class Activations {
 public:
  Activations(const BertConfig& config, int layer_slots);
  // Makes room for `tokens` packed tokens whose attention needs `probs` floats.
  void reserve(std::int64_t tokens, std::int64_t probs);

  float* emb_sum = nullptr;   // (N, C) embeddings before LayerNorm
  float* emb_ln = nullptr;    // (N, C)
  float* emb_mean = nullptr;  // (N)
  float* emb_rstd = nullptr;  // (N)
  std::vector<LayerActivations> layers;
  std::vector<std::int64_t> probs_offsets;

 private:
  void carve();
  int C_, I_, slots_;
  std::int64_t tokens_ = 0;
  std::int64_t probs_ = 0;
  std::vector<float> arena_;
};

// Runs embeddings and every encoder layer; returns the last hidden state (N, C), which lives in
// `acts` until the next forward.
const float* bert_forward(Activations& acts, const PackedBatch& batch, const BertWeights& w,
                          const BertConfig& config);

}  // namespace simtune

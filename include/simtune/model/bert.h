// BertModel's forward and backward passes (Hugging Face modeling_bert.BertModel without the
// pooler) over a packed batch: every sequence's tokens back to back, so matrix products see only
// real tokens.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "simtune/core/matmul.h"
#include "simtune/core/rng.h"
#include "simtune/model/kernels.h"
#include "simtune/model/params.h"

namespace simtune {

// Token ids of several sequences packed back to back.
struct PackedBatch {
  std::vector<std::int32_t> ids;        // N
  std::vector<std::int32_t> positions;  // N, 0..T-1 within each sequence
  std::vector<std::int32_t> offsets;    // B + 1

  void clear();
  void add(const std::vector<std::int32_t>& sequence_ids);
  int tokens() const { return static_cast<int>(ids.size()); }
  int sequences() const { return static_cast<int>(offsets.size()) - 1; }
  SeqSpans spans() const { return {offsets.data(), sequences()}; }
};

// Named activation slots of one encoder layer (BertLayer), each (N, ...) over packed tokens and
// named after the Hugging Face module whose output it holds.
struct LayerActivations {
  float* qkv;    // (N, 3C) attention.self.query | key | value, bias added
  float* probs;  // attention probabilities, per sequence NH*T*T
  float* ctx;    // (N, C) attention.self: the context, heads concatenated
  // (N, C) dropout(attention.output.dense) + residual: attention.output.LayerNorm's input
  float* attention_sum;
  float* attention_ln;       // (N, C) attention.output.LayerNorm
  float* attention_ln_mean;  // (N)
  float* attention_ln_rstd;  // (N)
  float* fc_pre;             // (N, I) intermediate.dense, pre-GELU
  float* output_sum;         // (N, C) dropout(output.dense) + residual: output.LayerNorm's input
  float* output_ln;          // (N, C) output.LayerNorm: the layer's output
  float* output_ln_mean;     // (N)
  float* output_ln_rstd;     // (N)
  // Dropout masks (0 or 1/(1-p)); null when dropout is off.
  float* probs_mask;     // like probs
  float* attn_out_mask;  // (N, C) on attention.output.dense
  float* out_mask;       // (N, C) on output.dense
};

// Dropout as BertModel applies it in training mode: hidden_dropout_prob after the embeddings and
// after each dense before its residual, attention_probs_dropout_prob on attention probabilities.
struct Dropout {
  float hidden = 0.0f;
  float attention = 0.0f;
  bool enabled() const { return hidden > 0.0f || attention > 0.0f; }
};

// One arena for every activation, grown only when a batch needs more than any before it.
// Inference keeps one layer's slots and reuses them for every layer; training keeps them all,
// since backward needs every layer's values.
class Activations {
 public:
  Activations(const BertConfig& config, bool training, Dropout dropout = {});
  // Makes room for `tokens` packed tokens whose attention needs `probs` floats.
  void reserve(std::int64_t tokens, std::int64_t probs);

  float* emb_sum = nullptr;   // (N, C) embeddings before LayerNorm
  float* emb_ln = nullptr;    // (N, C)
  float* emb_mean = nullptr;  // (N)
  float* emb_rstd = nullptr;  // (N)
  float* emb_mask = nullptr;  // (N, C) dropout mask, null when off
  float* emb_out = nullptr;   // (N, C) dropout(emb_ln): the first layer's input
  // (N, I) GELU(fc_pre) of the layer being computed. One slot for all layers: backward
  // recomputes it from fc_pre, which is cheaper than keeping a copy per layer.
  float* fc = nullptr;
  std::vector<LayerActivations> layers;
  std::vector<std::int64_t> probs_offsets;
  // The forward's dropout masks to draw, kept so that a training step does not allocate.
  std::vector<DropoutDraw> mask_draws;
  const Dropout dropout;

 private:
  template <class Visit>
  void for_each_slot(Visit&& visit);
  int C_, I_;
  std::int64_t tokens_ = 0;
  std::int64_t probs_ = 0;
  std::unique_ptr<float[]> arena_;
};

// Gradient buffers for the activations backward passes through; sized like Activations.
class ActivationGrads {
 public:
  explicit ActivationGrads(const BertConfig& config);
  void reserve(std::int64_t tokens, std::int64_t probs);

  // (N, C) gradient of the residual stream between layers: of a layer's output, then its input.
  float* dhidden = nullptr;
  float* dattention_ln = nullptr;  // (N, C)
  float* ddense = nullptr;         // (N, C) of either sublayer's dense output
  float* dctx = nullptr;           // (N, C)
  float* dqkv = nullptr;           // (N, 3C)
  float* dprobs = nullptr;         // like probs
  float* dfc = nullptr;            // (N, I)
  float* dfc_pre = nullptr;        // (N, I)
  float* demb_sum = nullptr;       // (N, C)

 private:
  template <class Visit>
  void for_each_slot(Visit&& visit);
  int C_, I_;
  std::int64_t tokens_ = 0;
  std::int64_t probs_ = 0;
  std::unique_ptr<float[]> arena_;
};

// A layer's four weight matrices packed for linear_forward.
struct PackedLayer {
  PackedMatrix qkv, attn_out, fc, proj;
};

// The weights as bert_forward's products read them. Inference packs every layer once, when a
// model is loaded. Training's weights change with every update, so its products read them in
// place (PackedMatrix::in_place), as they are at that moment, with no copy.
class PackedWeights {
 public:
  static PackedWeights every_layer(const BertWeights& w, const BertConfig& config);
  static PackedWeights in_place(const BertConfig& config);

  // Layer l's matrices: packed from lw, or lw's own in place (set in a one-layer slot, scratch
  // for one forward at a time, hence mutable).
  const PackedLayer& layer(std::size_t l, const LayerWeights& lw) const noexcept;

 private:
  PackedWeights(std::vector<PackedLayer> layers, bool in_place)
      : layers_(std::move(layers)), in_place_(in_place) {}
  mutable std::vector<PackedLayer> layers_;
  bool in_place_;
  int C_ = 0, I_ = 0;
};

// Runs embeddings and every encoder layer; returns the last hidden state (N, C), which lives in
// `acts` until the next forward. `packed` gives w's matrices packed (made from w). With
// acts.dropout enabled, `rng` draws the masks.
const float* bert_forward(Activations& acts, const PackedBatch& batch, const BertWeights& w,
                          const PackedWeights& packed, const BertConfig& config,
                          Rng* rng = nullptr);

// Called by bert_backward with an encoder layer's index once that layer's parameter gradients are
// complete (layers finish last to first), while the layers below still compute: data-parallel
// training starts exchanging the finished layer's gradients there.
using LayerDone = std::function<void(std::size_t layer)>;

// Accumulates into `grads` (a BertWeights view of the gradient buffer) the gradient of the
// last forward's output given dout (N, C). Needs acts built with training = true; reuses
// acts.fc as scratch. `layer_done`, when set, hears of each layer as it finishes.
void bert_backward(const BertWeights& grads, ActivationGrads& g, const float* dout,
                   const Activations& acts, const PackedBatch& batch, const BertWeights& w,
                   const BertConfig& config, const LayerDone* layer_done = nullptr);

}  // namespace simtune

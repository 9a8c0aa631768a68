#include "simtune/model/bert.h"

#include <algorithm>
#include <cstring>

#include "simtune/core/check.h"

namespace simtune {
namespace {

// Arena capacity for `need` when `have` is held: grown by half again at least, so batches that
// creep upwards reallocate a few times, not at every new maximum. The arena is left
// uninitialised: its pages are touched (and faulted in) only as far as batches use them, so the
// extra capacity costs address space, not memory.
std::int64_t grown(std::int64_t need, std::int64_t have) {
  return need <= have ? have : std::max(need, have + have / 2);
}

// Grows an arena's capacities to hold `tokens` and `probs`; false when they already do.
bool grow(std::int64_t tokens, std::int64_t probs, std::int64_t& tokens_cap,
          std::int64_t& probs_cap) {
  if (tokens <= tokens_cap && probs <= probs_cap) return false;
  tokens_cap = grown(tokens, tokens_cap);
  probs_cap = grown(probs, probs_cap);
  return true;
}

// Replaces `arena` by one block holding every slot that for_each_slot visits (with its size),
// and points the slots into it; a slot of size 0 is null. The old block goes first, so the two
// are never held together.
template <class ForEachSlot>
void lay_out(std::unique_ptr<float[]>& arena, ForEachSlot&& for_each_slot) {
  std::int64_t total = 0;
  for_each_slot([&](float*&, std::int64_t n) { total += n; });
  arena.reset();
  arena.reset(new float[static_cast<std::size_t>(total)]);
  float* p = arena.get();
  for_each_slot([&](float*& slot, std::int64_t n) {
    slot = n > 0 ? p : nullptr;
    p += n;
  });
}

}  // namespace

void PackedBatch::clear() {
  ids.clear();
  positions.clear();
  offsets.assign(1, 0);
}

void PackedBatch::add(const std::vector<std::int32_t>& sequence_ids) {
  if (offsets.empty()) offsets.push_back(0);
  for (std::size_t i = 0; i < sequence_ids.size(); i++) {
    ids.push_back(sequence_ids[i]);
    positions.push_back(static_cast<std::int32_t>(i));
  }
  offsets.push_back(static_cast<std::int32_t>(ids.size()));
}

Activations::Activations(const BertConfig& config, bool training, Dropout dropout_)
    : dropout(dropout_), C_(config.hidden_size), I_(config.intermediate_size) {
  SIMTUNE_CHECK(training || !dropout.enabled());
  layers.resize(training ? static_cast<std::size_t>(config.num_hidden_layers) : 1);
}

// Visits every slot with its size, in arena order (lay_out).
template <class Visit>
void Activations::for_each_slot(Visit&& visit) {
  const std::int64_t N = tokens_, C = C_, I = I_;
  const bool hidden_drop = dropout.hidden > 0.0f, attn_drop = dropout.attention > 0.0f;
  visit(emb_sum, N * C);
  visit(emb_ln, N * C);
  visit(emb_mean, N);
  visit(emb_rstd, N);
  visit(emb_mask, hidden_drop ? N * C : 0);
  visit(emb_out, hidden_drop ? N * C : 0);
  visit(fc, N * I);
  for (auto& l : layers) {
    visit(l.qkv, N * 3 * C);
    visit(l.probs, probs_);
    visit(l.ctx, N * C);
    visit(l.attention_sum, N * C);
    visit(l.attention_ln, N * C);
    visit(l.attention_ln_mean, N);
    visit(l.attention_ln_rstd, N);
    visit(l.fc_pre, N * I);
    visit(l.output_sum, N * C);
    visit(l.output_ln, N * C);
    visit(l.output_ln_mean, N);
    visit(l.output_ln_rstd, N);
    visit(l.probs_mask, attn_drop ? probs_ : 0);
    visit(l.attn_out_mask, hidden_drop ? N * C : 0);
    visit(l.out_mask, hidden_drop ? N * C : 0);
  }
}

void Activations::reserve(std::int64_t tokens, std::int64_t probs) {
  if (!grow(tokens, probs, tokens_, probs_)) return;
  lay_out(arena_, [&](auto&& visit) { for_each_slot(visit); });
  if (emb_out == nullptr) emb_out = emb_ln;
}

ActivationGrads::ActivationGrads(const BertConfig& config)
    : C_(config.hidden_size), I_(config.intermediate_size) {}

template <class Visit>
void ActivationGrads::for_each_slot(Visit&& visit) {
  const std::int64_t N = tokens_, C = C_, I = I_;
  visit(dhidden, N * C);
  visit(dattention_ln, N * C);
  visit(ddense, N * C);
  visit(dctx, N * C);
  visit(dqkv, N * 3 * C);
  visit(dprobs, probs_);
  visit(dfc, N * I);
  visit(dfc_pre, N * I);
  visit(demb_sum, N * C);
}

void ActivationGrads::reserve(std::int64_t tokens, std::int64_t probs) {
  if (!grow(tokens, probs, tokens_, probs_)) return;
  lay_out(arena_, [&](auto&& visit) { for_each_slot(visit); });
}

namespace {

PackedLayer pack_layer(const LayerWeights& lw, const BertConfig& config) {
  const int C = config.hidden_size, I = config.intermediate_size;
  return {PackedMatrix(lw.qkv_w, 3 * C, C), PackedMatrix(lw.attn_out_w, C, C),
          PackedMatrix(lw.fc_w, I, C), PackedMatrix(lw.proj_w, C, I)};
}

}  // namespace

PackedWeights PackedWeights::every_layer(const BertWeights& w, const BertConfig& config) {
  std::vector<PackedLayer> layers;
  for (const LayerWeights& lw : w.layers) layers.push_back(pack_layer(lw, config));
  return PackedWeights(std::move(layers), false);
}

PackedWeights PackedWeights::in_place(const BertConfig& config) {
  PackedWeights p(std::vector<PackedLayer>(1), true);
  p.C_ = config.hidden_size;
  p.I_ = config.intermediate_size;
  return p;
}

const PackedLayer& PackedWeights::layer(std::size_t l, const LayerWeights& lw) const noexcept {
  if (!in_place_) return layers_[l];
  const int C = C_, I = I_;
  PackedLayer& slot = layers_[0];
  slot.qkv = PackedMatrix::in_place(lw.qkv_w, 3 * C, C);
  slot.attn_out = PackedMatrix::in_place(lw.attn_out_w, C, C);
  slot.fc = PackedMatrix::in_place(lw.fc_w, I, C);
  slot.proj = PackedMatrix::in_place(lw.proj_w, C, I);
  return slot;
}

const float* bert_forward(Activations& acts, const PackedBatch& batch, const BertWeights& w,
                          const PackedWeights& packed, const BertConfig& config, Rng* rng) {
  const int N = batch.tokens();
  const int C = config.hidden_size;
  const int NH = config.num_attention_heads;
  const float eps = config.layer_norm_eps;
  const SeqSpans spans = batch.spans();
  const Dropout& drop = acts.dropout;
  SIMTUNE_CHECK(!drop.enabled() || rng != nullptr);

  acts.probs_offsets.resize(static_cast<std::size_t>(spans.B) + 1);
  const std::int64_t probs = attention_probs_offsets(acts.probs_offsets.data(), spans, NH);
  acts.reserve(N, probs);
  const std::int64_t NC = static_cast<std::int64_t>(N) * C;

  embeddings_forward(acts.emb_sum, batch.ids.data(), batch.positions.data(), w.wte, w.wpe, w.wtt, N,
                     C);
  layernorm_forward(acts.emb_ln, acts.emb_mean, acts.emb_rstd, acts.emb_sum, w.emb_ln_w, w.emb_ln_b,
                    N, C, eps);
  if (drop.enabled()) {
    // Every mask of the pass drawn at once, keys in the order of the layers that use them.
    std::vector<DropoutDraw>& draws = acts.mask_draws;
    draws.clear();
    auto draw = [&](float* mask, std::int64_t n, float p) {
      if (mask != nullptr) draws.push_back({mask, n, p, rng->next_u64()});
    };
    draw(acts.emb_mask, NC, drop.hidden);
    for (LayerActivations& a : acts.layers) {
      draw(a.probs_mask, probs, drop.attention);
      draw(a.attn_out_mask, NC, drop.hidden);
      draw(a.out_mask, NC, drop.hidden);
    }
    dropout_masks(draws.data(), static_cast<int>(draws.size()));
  }
  if (acts.emb_mask != nullptr) {
    std::memcpy(acts.emb_out, acts.emb_ln, static_cast<std::size_t>(NC) * sizeof(float));
    dropout_apply(acts.emb_out, acts.emb_mask, NC);
  }
  const float* hidden = acts.emb_out;
  const std::size_t slots = acts.layers.size();
  for (std::size_t l = 0; l < w.layers.size(); l++) {
    const LayerWeights& lw = w.layers[l];
    // With a single slot every layer overwrites the previous one's activations; that is safe
    // because a layer reads its input (the previous output_ln) only before writing its own.
    LayerActivations& a = acts.layers[l % slots];
    const PackedLayer& pl = packed.layer(l, lw);
    linear_forward(a.qkv, hidden, pl.qkv, lw.qkv_b, N);
    attention_forward(a.ctx, a.probs, a.qkv, a.probs_mask, spans, acts.probs_offsets.data(), NH, C);
    linear_forward(a.attention_sum, a.ctx, pl.attn_out, nullptr, N);
    bias_residual_layernorm_forward(a.attention_ln, a.attention_ln_mean, a.attention_ln_rstd,
                                    a.attention_sum, lw.attn_out_b, a.attn_out_mask, hidden,
                                    lw.attention_ln_w, lw.attention_ln_b, N, C, eps);
    linear_gelu_forward(acts.fc, a.fc_pre, a.attention_ln, pl.fc, lw.fc_b, N);
    linear_forward(a.output_sum, acts.fc, pl.proj, nullptr, N);
    bias_residual_layernorm_forward(a.output_ln, a.output_ln_mean, a.output_ln_rstd, a.output_sum,
                                    lw.proj_b, a.out_mask, a.attention_ln, lw.output_ln_w,
                                    lw.output_ln_b, N, C, eps);
    hidden = a.output_ln;
  }
  return hidden;
}

// bert_forward's calls in reverse order, each forward replaced by its backward. Gradients of
// activations are named after them (dattention_ln for attention_ln, ...); ddense serves both
// sublayers' dense outputs in turn.
void bert_backward(const BertWeights& grads, ActivationGrads& g, const float* dout,
                   const Activations& acts, const PackedBatch& batch, const BertWeights& w,
                   const BertConfig& config, const LayerDone* layer_done) {
  const int N = batch.tokens();
  const int C = config.hidden_size;
  const int I = config.intermediate_size;
  const int NH = config.num_attention_heads;
  const std::int64_t NC = static_cast<std::int64_t>(N) * C;
  const std::int64_t NI = static_cast<std::int64_t>(N) * I;
  const SeqSpans spans = batch.spans();
  SIMTUNE_CHECK(acts.layers.size() == w.layers.size());
  g.reserve(N, acts.probs_offsets.back());

  std::memcpy(g.dhidden, dout, static_cast<std::size_t>(NC) * sizeof(float));
  for (int l = static_cast<int>(w.layers.size()) - 1; l >= 0; l--) {
    const LayerWeights& lw = w.layers[l];
    const LayerWeights& lg = grads.layers[l];
    const LayerActivations& a = acts.layers[l];
    const float* hidden = l == 0 ? acts.emb_out : acts.layers[l - 1].output_ln;
    // Each activation gradient is written by its first path back and added to by its second
    // (dattention_ln, dhidden), so none is zeroed first.
    bias_residual_layernorm_backward(g.dattention_ln, g.ddense, lg.proj_b, lg.output_ln_w,
                                     lg.output_ln_b, g.dhidden, a.output_sum, a.output_ln_mean,
                                     a.output_ln_rstd, a.out_mask, lw.output_ln_w, N, C);
    gelu_recompute(acts.fc, a.fc_pre, NI);
    linear_backward(g.dfc, lg.proj_w, nullptr, g.ddense, acts.fc, lw.proj_w, N, I, C, Into::write);
    bias_gelu_backward(g.dfc_pre, lg.fc_b, g.dfc, a.fc_pre, N, I);
    linear_backward(g.dattention_ln, lg.fc_w, nullptr, g.dfc_pre, a.attention_ln, lw.fc_w, N, C, I,
                    Into::add);
    bias_residual_layernorm_backward(g.dhidden, g.ddense, lg.attn_out_b, lg.attention_ln_w,
                                     lg.attention_ln_b, g.dattention_ln, a.attention_sum,
                                     a.attention_ln_mean, a.attention_ln_rstd, a.attn_out_mask,
                                     lw.attention_ln_w, N, C);
    linear_backward(g.dctx, lg.attn_out_w, nullptr, g.ddense, a.ctx, lw.attn_out_w, N, C, C,
                    Into::write);
    attention_backward(g.dqkv, g.dprobs, g.dctx, a.qkv, a.probs, a.probs_mask, spans,
                       acts.probs_offsets.data(), NH, C);
    linear_backward(g.dhidden, lg.qkv_w, lg.qkv_b, g.dqkv, hidden, lw.qkv_w, N, C, 3 * C,
                    Into::add);
    if (layer_done != nullptr) (*layer_done)(static_cast<std::size_t>(l));
  }
  if (acts.emb_mask != nullptr) dropout_apply(g.dhidden, acts.emb_mask, NC);
  layernorm_backward(g.demb_sum, grads.emb_ln_w, grads.emb_ln_b, g.dhidden, acts.emb_sum,
                     w.emb_ln_w, acts.emb_mean, acts.emb_rstd, N, C);
  embeddings_backward(grads.wte, grads.wpe, grads.wtt, g.demb_sum, batch.ids.data(),
                      batch.positions.data(), N, C);
}

}  // namespace simtune

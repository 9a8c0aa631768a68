#include "simtune/model/bert.h"

#include <algorithm>
#include <cstring>

#include "simtune/core/blas.h"
#include "simtune/core/check.h"

namespace simtune {
namespace {

// Masks are drawn serially so a seed gives the same masks whatever the thread count.
void draw_mask(float* mask, std::int64_t n, float p, Rng& rng) {
  const float keep = 1.0f / (1.0f - p);
  for (std::int64_t i = 0; i < n; i++) mask[i] = rng.uniform() < p ? 0.0f : keep;
}

// out (N,OC) = inp (N,C) . W^T through the packed kernel when given, else BLAS.
void linear(float* out, const float* inp, const float* w, const PackedMatrix* packed, int N, int C,
            int OC) {
  if (packed != nullptr) {
    matmul_packed(out, inp, *packed, N);
  } else {
    matmul_nt(out, inp, w, N, C, OC);
  }
}

void zero(float* x, std::int64_t n) {
  std::memset(x, 0, static_cast<std::size_t>(n) * sizeof(float));
}

// Backward of a sublayer's output, LayerNorm(dropout(dense + bias) + residual), given the
// output's gradient in g.dres: leaves the residual's gradient in g.dres and the dense output's
// in g.dsum, and accumulates the LayerNorm and bias gradients.
void sublayer_output_backward(ActivationGrads& g, float* dln_w, float* dln_b, float* dbias,
                              const float* sum, const float* ln_w, const float* mean,
                              const float* rstd, const float* mask, int N, int C) {
  const std::int64_t NC = static_cast<std::int64_t>(N) * C;
  zero(g.dsum, NC);
  layernorm_backward(g.dsum, dln_w, dln_b, g.dres, sum, ln_w, mean, rstd, N, C);
  std::memcpy(g.dres, g.dsum, static_cast<std::size_t>(NC) * sizeof(float));
  if (mask != nullptr) dropout_apply(g.dsum, mask, NC);
  bias_backward(dbias, g.dsum, N, C);
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

// Visits every slot with its size, in arena order; used once to size the arena and once to
// point the slots into it.
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
    visit(l.attn_sum, N * C);
    visit(l.ln1, N * C);
    visit(l.ln1_mean, N);
    visit(l.ln1_rstd, N);
    visit(l.fc_pre, N * I);
    visit(l.out_sum, N * C);
    visit(l.ln2, N * C);
    visit(l.ln2_mean, N);
    visit(l.ln2_rstd, N);
    visit(l.probs_mask, attn_drop ? probs_ : 0);
    visit(l.attn_out_mask, hidden_drop ? N * C : 0);
    visit(l.out_mask, hidden_drop ? N * C : 0);
  }
}

void Activations::reserve(std::int64_t tokens, std::int64_t probs) {
  if (tokens <= tokens_ && probs <= probs_) return;
  tokens_ = std::max(tokens, tokens_);
  probs_ = std::max(probs, probs_);
  std::int64_t total = 0;
  for_each_slot([&](float*&, std::int64_t n) { total += n; });
  arena_.assign(static_cast<std::size_t>(total), 0.0f);
  float* p = arena_.data();
  for_each_slot([&](float*& slot, std::int64_t n) {
    slot = n > 0 ? p : nullptr;
    p += n;
  });
  if (emb_out == nullptr) emb_out = emb_ln;
}

ActivationGrads::ActivationGrads(const BertConfig& config)
    : C_(config.hidden_size), I_(config.intermediate_size) {}

void ActivationGrads::reserve(std::int64_t tokens, std::int64_t probs) {
  if (tokens <= tokens_ && probs <= probs_) return;
  tokens_ = std::max(tokens, tokens_);
  probs_ = std::max(probs, probs_);
  const std::int64_t N = tokens_, C = C_, I = I_;
  float** slots[] = {&dres, &dsum, &dctx, &dqkv, &dprobs, &dfc, &dfc_pre};
  const std::int64_t sizes[] = {N * C, N * C, N * C, N * 3 * C, probs_, N * I, N * I};
  std::int64_t total = 0;
  for (auto n : sizes) total += n;
  arena_.assign(static_cast<std::size_t>(total), 0.0f);
  float* p = arena_.data();
  for (std::size_t i = 0; i < std::size(slots); i++) {
    *slots[i] = p;
    p += sizes[i];
  }
}

std::vector<PackedLayer> pack_layers(const BertWeights& w, const BertConfig& config) {
  const int C = config.hidden_size, I = config.intermediate_size;
  std::vector<PackedLayer> packed;
  for (const LayerWeights& lw : w.layers) {
    packed.push_back({PackedMatrix(lw.qkv_w, 3 * C, C), PackedMatrix(lw.attn_out_w, C, C),
                      PackedMatrix(lw.fc_w, I, C), PackedMatrix(lw.proj_w, C, I)});
  }
  return packed;
}

const float* bert_forward(Activations& acts, const PackedBatch& batch, const BertWeights& w,
                          const BertConfig& config, Rng* rng,
                          const std::vector<PackedLayer>* packed) {
  const int N = batch.tokens();
  const int C = config.hidden_size;
  const int I = config.intermediate_size;
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
  if (acts.emb_mask != nullptr) {
    draw_mask(acts.emb_mask, NC, drop.hidden, *rng);
    std::memcpy(acts.emb_out, acts.emb_ln, static_cast<std::size_t>(NC) * sizeof(float));
    dropout_apply(acts.emb_out, acts.emb_mask, NC);
  }
  const float* hidden = acts.emb_out;
  const std::size_t slots = acts.layers.size();
  for (std::size_t l = 0; l < w.layers.size(); l++) {
    const LayerWeights& lw = w.layers[l];
    // With a single slot every layer overwrites the previous one's activations; that is safe
    // because a layer reads its input (the previous ln2) only before writing its own ln2.
    LayerActivations& a = acts.layers[l % slots];
    if (a.probs_mask != nullptr) draw_mask(a.probs_mask, probs, drop.attention, *rng);
    if (a.attn_out_mask != nullptr) {
      draw_mask(a.attn_out_mask, NC, drop.hidden, *rng);
      draw_mask(a.out_mask, NC, drop.hidden, *rng);
    }
    const PackedLayer* pl = packed != nullptr ? &(*packed)[l] : nullptr;
    linear(a.qkv, hidden, lw.qkv_w, pl ? &pl->qkv : nullptr, N, C, 3 * C);
    bias_forward(a.qkv, lw.qkv_b, N, 3 * C);
    attention_forward(a.ctx, a.probs, a.qkv, a.probs_mask, spans, acts.probs_offsets.data(), NH, C);
    linear(a.attn_sum, a.ctx, lw.attn_out_w, pl ? &pl->attn_out : nullptr, N, C, C);
    bias_residual_layernorm_forward(a.ln1, a.ln1_mean, a.ln1_rstd, a.attn_sum, lw.attn_out_b,
                                    a.attn_out_mask, hidden, lw.ln1_w, lw.ln1_b, N, C, eps);
    linear(a.fc_pre, a.ln1, lw.fc_w, pl ? &pl->fc : nullptr, N, C, I);
    bias_gelu_forward(acts.fc, a.fc_pre, lw.fc_b, N, I);
    linear(a.out_sum, acts.fc, lw.proj_w, pl ? &pl->proj : nullptr, N, I, C);
    bias_residual_layernorm_forward(a.ln2, a.ln2_mean, a.ln2_rstd, a.out_sum, lw.proj_b, a.out_mask,
                                    a.ln1, lw.ln2_w, lw.ln2_b, N, C, eps);
    hidden = a.ln2;
  }
  return hidden;
}

void bert_backward(const BertWeights& grads, ActivationGrads& g, const float* dout,
                   const Activations& acts, const PackedBatch& batch, const BertWeights& w,
                   const BertConfig& config) {
  const int N = batch.tokens();
  const int C = config.hidden_size;
  const int I = config.intermediate_size;
  const int NH = config.num_attention_heads;
  const std::int64_t NC = static_cast<std::int64_t>(N) * C;
  const std::int64_t NI = static_cast<std::int64_t>(N) * I;
  const SeqSpans spans = batch.spans();
  SIMTUNE_CHECK(acts.layers.size() == w.layers.size());
  g.reserve(N, acts.probs_offsets.back());

  // dres holds the gradient of the current layer's output, then of its input.
  std::memcpy(g.dres, dout, static_cast<std::size_t>(NC) * sizeof(float));
  for (int l = static_cast<int>(w.layers.size()) - 1; l >= 0; l--) {
    const LayerWeights& lw = w.layers[l];
    const LayerWeights& lg = grads.layers[l];
    const LayerActivations& a = acts.layers[l];
    const float* input = l == 0 ? acts.emb_out : acts.layers[l - 1].ln2;

    // ln2 = LayerNorm(out_sum), out_sum = dropout(fc . W + b) + ln1.
    sublayer_output_backward(g, lg.ln2_w, lg.ln2_b, lg.proj_b, a.out_sum, lw.ln2_w, a.ln2_mean,
                             a.ln2_rstd, a.out_mask, N, C);
    zero(g.dfc, NI);
    gelu_forward(acts.fc, a.fc_pre, NI);
    matmul_backward(g.dfc, lg.proj_w, g.dsum, acts.fc, lw.proj_w, N, I, C);
    // fc = gelu(ln1 . W + b); its input gradient joins the residual's in dres.
    zero(g.dfc_pre, NI);
    gelu_backward(g.dfc_pre, a.fc_pre, g.dfc, N, I);
    bias_backward(lg.fc_b, g.dfc_pre, N, I);
    matmul_backward(g.dres, lg.fc_w, g.dfc_pre, a.ln1, lw.fc_w, N, C, I);

    // ln1 = LayerNorm(attn_sum), attn_sum = dropout(ctx . W + b) + input.
    sublayer_output_backward(g, lg.ln1_w, lg.ln1_b, lg.attn_out_b, a.attn_sum, lw.ln1_w, a.ln1_mean,
                             a.ln1_rstd, a.attn_out_mask, N, C);
    zero(g.dctx, NC);
    matmul_backward(g.dctx, lg.attn_out_w, g.dsum, a.ctx, lw.attn_out_w, N, C, C);
    // ctx = attention(input . Wqkv + bqkv).
    zero(g.dqkv, 3 * NC);
    attention_backward(g.dqkv, g.dprobs, g.dctx, a.qkv, a.probs, a.probs_mask, spans,
                       acts.probs_offsets.data(), NH, C);
    bias_backward(lg.qkv_b, g.dqkv, N, 3 * C);
    matmul_backward(g.dres, lg.qkv_w, g.dqkv, input, lw.qkv_w, N, C, 3 * C);
  }
  // emb_out = dropout(LayerNorm(wte[ids] + wpe[pos] + wtt[0])).
  if (acts.emb_mask != nullptr) dropout_apply(g.dres, acts.emb_mask, NC);
  zero(g.dsum, NC);
  layernorm_backward(g.dsum, grads.emb_ln_w, grads.emb_ln_b, g.dres, acts.emb_sum, w.emb_ln_w,
                     acts.emb_mean, acts.emb_rstd, N, C);
  embeddings_backward(grads.wte, grads.wpe, grads.wtt, g.dsum, batch.ids.data(),
                      batch.positions.data(), N, C);
}

}  // namespace simtune

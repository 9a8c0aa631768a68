#include "model/bert.h"

#include <algorithm>

#include "core/blas.h"
#include "core/check.h"

namespace simtune {

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

Activations::Activations(const BertConfig& config, int layer_slots)
    : C_(config.hidden_size), I_(config.intermediate_size), slots_(layer_slots) {
  layers.resize(static_cast<std::size_t>(layer_slots));
}

void Activations::reserve(std::int64_t tokens, std::int64_t probs) {
  if (tokens <= tokens_ && probs <= probs_) return;
  tokens_ = std::max(tokens, tokens_);
  probs_ = std::max(probs, probs_);
  carve();
}

void Activations::carve() {
  const std::int64_t N = tokens_, C = C_, I = I_;
  const std::int64_t per_layer = N * 3 * C + probs_ + N * C * 5 + N * 4 + N * I * 2;
  arena_.assign(static_cast<std::size_t>(N * C * 2 + N * 2 + per_layer * slots_), 0.0f);
  float* p = arena_.data();
  auto take = [&p](std::int64_t n) {
    float* r = p;
    p += n;
    return r;
  };
  emb_sum = take(N * C);
  emb_ln = take(N * C);
  emb_mean = take(N);
  emb_rstd = take(N);
  for (auto& l : layers) {
    l.qkv = take(N * 3 * C);
    l.probs = take(probs_);
    l.ctx = take(N * C);
    l.attn_sum = take(N * C);
    l.ln1 = take(N * C);
    l.ln1_mean = take(N);
    l.ln1_rstd = take(N);
    l.fc_pre = take(N * I);
    l.fc = take(N * I);
    l.out_sum = take(N * C);
    l.ln2 = take(N * C);
    l.ln2_mean = take(N);
    l.ln2_rstd = take(N);
  }
  SIMTUNE_CHECK(p == arena_.data() + arena_.size());
}

const float* bert_forward(Activations& acts, const PackedBatch& batch, const BertWeights& w,
                          const BertConfig& config) {
  const int N = batch.tokens();
  const int C = config.hidden_size;
  const int I = config.intermediate_size;
  const int NH = config.num_attention_heads;
  const float eps = config.layer_norm_eps;
  const SeqSpans spans = batch.spans();

  acts.probs_offsets.resize(static_cast<std::size_t>(spans.B) + 1);
  const std::int64_t probs = attention_probs_offsets(acts.probs_offsets.data(), spans, NH);
  acts.reserve(N, probs);

  embeddings_forward(acts.emb_sum, batch.ids.data(), batch.positions.data(), w.wte, w.wpe, w.wtt, N,
                     C);
  layernorm_forward(acts.emb_ln, acts.emb_mean, acts.emb_rstd, acts.emb_sum, w.emb_ln_w, w.emb_ln_b,
                    N, C, eps);
  const float* hidden = acts.emb_ln;
  const std::size_t slots = acts.layers.size();
  for (std::size_t l = 0; l < w.layers.size(); l++) {
    const LayerWeights& lw = w.layers[l];
    // With a single slot every layer overwrites the previous one's activations; that is safe
    // because a layer reads its input (the previous ln2) only before writing its own ln2.
    LayerActivations& a = acts.layers[l % slots];
    matmul_nt(a.qkv, hidden, lw.qkv_w, N, C, 3 * C);
    bias_forward(a.qkv, lw.qkv_b, N, 3 * C);
    attention_forward(a.ctx, a.probs, a.qkv, nullptr, spans, acts.probs_offsets.data(), NH, C);
    matmul_nt(a.attn_sum, a.ctx, lw.attn_out_w, N, C, C);
    bias_residual_layernorm_forward(a.ln1, a.ln1_mean, a.ln1_rstd, a.attn_sum, lw.attn_out_b,
                                    nullptr, hidden, lw.ln1_w, lw.ln1_b, N, C, eps);
    matmul_nt(a.fc_pre, a.ln1, lw.fc_w, N, C, I);
    bias_gelu_forward(a.fc, a.fc_pre, lw.fc_b, N, I);
    matmul_nt(a.out_sum, a.fc, lw.proj_w, N, I, C);
    bias_residual_layernorm_forward(a.ln2, a.ln2_mean, a.ln2_rstd, a.out_sum, lw.proj_b, nullptr,
                                    a.ln1, lw.ln2_w, lw.ln2_b, N, C, eps);
    hidden = a.ln2;
  }
  return hidden;
}

}  // namespace simtune

// The whole tiny model through pooling and CosineSimilarityLoss, with dropout masks held fixed:
// analytic gradients of every parameter tensor against central differences.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "simtune/model/bert.h"
#include "simtune/model/params.h"
#include "simtune/model/pooling.h"
#include "train/cosine_similarity_loss.h"

namespace simtune {
namespace {

struct TinySetup {
  BertConfig config;
  PoolingConfig pooling;
  PackedBatch batch;  // sequences 0..B-1 are side a, B..2B-1 side b
  std::vector<float> labels;
  int B = 3;

  TinySetup() {
    config.vocab_size = 50;
    config.hidden_size = 16;
    config.num_hidden_layers = 2;
    config.num_attention_heads = 2;
    config.intermediate_size = 32;
    config.max_position_embeddings = 16;
    config.type_vocab_size = 2;
    pooling.word_embedding_dimension = 16;
    const std::vector<std::vector<std::int32_t>> seqs = {{2, 7, 9, 3},        {2, 11, 3},
                                                         {2, 5, 5, 8, 13, 3}, {2, 7, 3},
                                                         {2, 21, 22, 3},      {2, 40, 41, 42, 3}};
    batch.clear();
    for (const auto& s : seqs) batch.add(s);
    labels = {0.9f, 0.1f, 0.5f};
  }
};

double run_loss(const TinySetup& s, const BertParams& params, Activations& acts,
                std::vector<float>& pooled, std::vector<float>& cos) {
  const BertWeights w =
      bert_weights(params.layout, s.config, const_cast<float*>(params.values.data()));
  Rng rng(123);  // the same dropout masks for every evaluation
  const float* h =
      bert_forward(acts, s.batch, w, PackedWeights::every_layer(w, s.config), s.config, &rng);
  pooling_forward(pooled.data(), h, s.batch.spans(), s.config.hidden_size, s.pooling);
  const int D = s.config.hidden_size;
  return cosine_similarity_loss_forward(cos.data(), pooled.data(), pooled.data() + s.B * D,
                                        s.labels.data(), s.B, D);
}

void check_model_gradients(Dropout dropout) {
  TinySetup s;
  BertParams params = BertParams::init(s.config, 3);
  // Larger weights than BERT's init make every path's gradient visible above float noise.
  std::mt19937 gen(5);
  std::normal_distribution<float> nd(0.0f, 0.3f);
  for (auto& v : params.values) v += nd(gen);
  const int D = s.config.hidden_size;
  Activations acts(s.config, true, dropout);
  std::vector<float> pooled(2 * s.B * D), cos(s.B);

  run_loss(s, params, acts, pooled, cos);
  std::vector<float> grad_values(params.layout.total, 0.0f), dpooled(2 * s.B * D, 0.0f),
      dhidden(s.batch.tokens() * D, 0.0f);
  cosine_similarity_loss_backward(dpooled.data(), dpooled.data() + s.B * D, pooled.data(),
                                  pooled.data() + s.B * D, cos.data(), s.labels.data(), s.B, D);
  // Recompute the forward's last hidden state for max-free pooling backward (mean needs none).
  const BertWeights w = bert_weights(params.layout, s.config, params.values.data());
  Rng rng(123);
  const float* h =
      bert_forward(acts, s.batch, w, PackedWeights::every_layer(w, s.config), s.config, &rng);
  pooling_backward(dhidden.data(), dpooled.data(), h, s.batch.spans(), D, s.pooling);
  const BertWeights gw = bert_weights(params.layout, s.config, grad_values.data());
  ActivationGrads ag(s.config);
  bert_backward(gw, ag, dhidden.data(), acts, s.batch, w, s.config);

  const double step = 1e-2;
  for (const auto& t : params.layout.tensors) {
    double max_diff = 0, max_ref = 0;
    std::size_t worst = 0;
    double worst_num = 0;
    // Up to 40 elements per tensor, spread over it, keep the check fast.
    const std::size_t stride = std::max<std::size_t>(1, t.numel / 40);
    for (std::size_t i = 0; i < t.numel; i += stride) {
      float& x = params.values[t.offset + i];
      const float keep = x;
      x = keep + static_cast<float>(step);
      const double up = run_loss(s, params, acts, pooled, cos);
      x = keep - static_cast<float>(step);
      const double down = run_loss(s, params, acts, pooled, cos);
      x = keep;
      const double numeric = (up - down) / (2 * step);
      const double d = std::abs(numeric - grad_values[t.offset + i]);
      max_ref = std::max(max_ref, std::abs(numeric));
      if (d > max_diff) max_diff = d, worst = i, worst_num = numeric;
    }
    EXPECT_LE(max_diff, 2e-2 * max_ref + 2e-4)
        << t.name << "[" << worst << "]: analytic " << grad_values[t.offset + worst] << " numeric "
        << worst_num << " (max |numeric| " << max_ref << ")";
  }
}

TEST(ModelGradcheck, EveryTensorWithoutDropout) {
  check_model_gradients({});
}

TEST(ModelGradcheck, EveryTensorWithDropout) {
  check_model_gradients({0.1f, 0.1f});
}

}  // namespace
}  // namespace simtune

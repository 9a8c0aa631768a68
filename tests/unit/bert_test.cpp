// Whole-model properties that need no oracle: packing must not change any sequence's result.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "simtune/model/bert.h"
#include "simtune/model/params.h"

namespace simtune {
namespace {

BertConfig tiny_config() {
  BertConfig c;
  c.vocab_size = 100;
  c.hidden_size = 32;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.intermediate_size = 64;
  c.max_position_embeddings = 64;
  c.type_vocab_size = 2;
  return c;
}

std::vector<std::int32_t> sequence(int length, int salt) {
  std::vector<std::int32_t> ids(length);
  for (int i = 0; i < length; i++) ids[i] = 1 + (i * 7 + salt * 13) % 99;
  return ids;
}

TEST(Bert, SequenceEmbedsIdenticallyAloneAndInsideAPackedBatch) {
  const BertConfig config = tiny_config();
  BertParams params = BertParams::init(config, 7);
  const BertWeights w = bert_weights(params.layout, config, params.values.data());
  const int C = config.hidden_size;
  const auto target = sequence(5, 0);

  const PackedWeights packed = PackedWeights::every_layer(w, config);
  Activations acts(config, false);
  PackedBatch alone;
  alone.clear();
  alone.add(target);
  const float* h = bert_forward(acts, alone, w, packed, config);
  const std::vector<float> want(h, h + 5 * C);

  PackedBatch batch;
  batch.clear();
  for (int s = 1; s <= 31; s++) batch.add(sequence(6 + s, s));
  batch.add(target);
  const float* hb = bert_forward(acts, batch, w, packed, config);
  const float* got = hb + static_cast<std::size_t>(batch.offsets[31]) * C;
  EXPECT_EQ(0, std::memcmp(got, want.data(), want.size() * sizeof(float)))
      << "first values: alone " << want[0] << " batched " << got[0];
}

// Training's weights read in place must give the forward every-layer packing gives, and follow
// the weights when they change.
TEST(Bert, InPlaceWeightsMatchEveryLayerPackingAndFollowUpdates) {
  const BertConfig config = tiny_config();
  BertParams params = BertParams::init(config, 9);
  const BertWeights w = bert_weights(params.layout, config, params.values.data());
  const int C = config.hidden_size;
  PackedBatch batch;
  batch.clear();
  for (int s = 0; s < 4; s++) batch.add(sequence(3 + s, s));
  const std::size_t n = static_cast<std::size_t>(batch.tokens()) * C;
  Activations acts(config, false);
  const PackedWeights slot = PackedWeights::in_place(config);
  for (int update = 0; update < 2; update++) {
    const float* h = bert_forward(acts, batch, w, PackedWeights::every_layer(w, config), config);
    const std::vector<float> want(h, h + n);
    const float* got = bert_forward(acts, batch, w, slot, config);
    EXPECT_EQ(0, std::memcmp(got, want.data(), n * sizeof(float))) << "after update " << update;
    for (float& v : params.values) v *= 1.01f;
  }
}

TEST(Bert, InitFollowsHuggingFaceScheme) {
  const BertConfig config = tiny_config();
  BertParams params = BertParams::init(config, 1);
  const auto& ln = params.layout.at("encoder.layer.1.output.LayerNorm.weight");
  for (std::size_t i = 0; i < ln.numel; i++) EXPECT_EQ(params.values[ln.offset + i], 1.0f);
  const auto& bias = params.layout.at("encoder.layer.0.intermediate.dense.bias");
  for (std::size_t i = 0; i < bias.numel; i++) EXPECT_EQ(params.values[bias.offset + i], 0.0f);
  const auto& wte = params.layout.at("embeddings.word_embeddings.weight");
  double sum = 0, sq = 0;
  for (std::size_t i = config.hidden_size; i < wte.numel; i++) {
    sum += params.values[wte.offset + i];
    sq += double(params.values[wte.offset + i]) * params.values[wte.offset + i];
  }
  const double n = static_cast<double>(wte.numel - config.hidden_size);
  EXPECT_NEAR(sum / n, 0.0, 0.002);
  EXPECT_NEAR(std::sqrt(sq / n), config.initializer_range, 0.002);
  // padding_idx row (pad_token_id 0) is zero.
  for (int i = 0; i < config.hidden_size; i++) EXPECT_EQ(params.values[wte.offset + i], 0.0f);
}

}  // namespace
}  // namespace simtune

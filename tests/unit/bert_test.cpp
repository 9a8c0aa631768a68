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

  const std::vector<PackedLayer> packed = pack_layers(w, config);
  Activations acts(config, false);
  PackedBatch alone;
  alone.clear();
  alone.add(target);
  const float* h = bert_forward(acts, alone, w, config, nullptr, &packed);
  const std::vector<float> want(h, h + 5 * C);

  PackedBatch batch;
  batch.clear();
  for (int s = 1; s <= 31; s++) batch.add(sequence(6 + s, s));
  batch.add(target);
  const float* hb = bert_forward(acts, batch, w, config, nullptr, &packed);
  const float* got = hb + static_cast<std::size_t>(batch.offsets[31]) * C;
  EXPECT_EQ(0, std::memcmp(got, want.data(), want.size() * sizeof(float)))
      << "first values: alone " << want[0] << " batched " << got[0];
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

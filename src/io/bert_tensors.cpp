#include "simtune/io/bert_tensors.h"

namespace simtune {

std::vector<BertTensorSpec> bert_tensor_specs(const BertConfig& config) {
  const std::int64_t c = config.hidden_size;
  const std::int64_t inter = config.intermediate_size;
  std::vector<BertTensorSpec> specs = {
      {"embeddings.word_embeddings.weight", {config.vocab_size, c}},
      {"embeddings.position_embeddings.weight", {config.max_position_embeddings, c}},
      {"embeddings.token_type_embeddings.weight", {config.type_vocab_size, c}},
      {"embeddings.LayerNorm.weight", {c}},
      {"embeddings.LayerNorm.bias", {c}},
  };
  for (int i = 0; i < config.num_hidden_layers; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    const std::vector<BertTensorSpec> layer = {
        {p + "attention.self.query.weight", {c, c}},
        {p + "attention.self.key.weight", {c, c}},
        {p + "attention.self.value.weight", {c, c}},
        {p + "attention.self.query.bias", {c}},
        {p + "attention.self.key.bias", {c}},
        {p + "attention.self.value.bias", {c}},
        {p + "attention.output.dense.weight", {c, c}},
        {p + "attention.output.dense.bias", {c}},
        {p + "attention.output.LayerNorm.weight", {c}},
        {p + "attention.output.LayerNorm.bias", {c}},
        {p + "intermediate.dense.weight", {inter, c}},
        {p + "intermediate.dense.bias", {inter}},
        {p + "output.dense.weight", {c, inter}},
        {p + "output.dense.bias", {c}},
        {p + "output.LayerNorm.weight", {c}},
        {p + "output.LayerNorm.bias", {c}},
    };
    specs.insert(specs.end(), layer.begin(), layer.end());
  }
  return specs;
}

std::vector<BertTensorSpec> bert_pooler_specs(const BertConfig& config) {
  const std::int64_t c = config.hidden_size;
  return {{"pooler.dense.weight", {c, c}}, {"pooler.dense.bias", {c}}};
}

}  // namespace simtune

// The Hugging Face BertModel checkpoint layout: tensor names and shapes implied by config.json.
// One table shared by the weight checker (io) and the parameter layout (model).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "simtune/io/model_files.h"

namespace simtune {

struct BertTensorSpec {
  std::string name;  // without the optional "bert." prefix
  std::vector<std::int64_t> shape;
};

// Embeddings, then per layer in forward order. Within a layer query/key/value weights come
// first and adjacent, then their biases, so a flat layout holding them in this order gives a
// fused [3C, C] QKV matrix and a [3C] bias. The pooler is not included.
std::vector<BertTensorSpec> bert_tensor_specs(const BertConfig& config);

// pooler.dense.weight [C, C] and pooler.dense.bias [C]: optional, unused by sentence embeddings.
std::vector<BertTensorSpec> bert_pooler_specs(const BertConfig& config);

}  // namespace simtune

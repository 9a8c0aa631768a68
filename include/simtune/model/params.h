// The model's parameters in one flat float buffer: BERT's in Hugging Face checkpoint order
// (io/bert_tensors.h), then each Dense module's (dense_tensor_prefix), so gradients and optimizer
// moments can share the layout and a checkpoint is one write.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "simtune/io/model_files.h"
#include "simtune/io/safetensors.h"
#include "simtune/model/dense.h"

namespace simtune {

struct ParamTensor {
  std::string name;  // Hugging Face name, e.g. "encoder.layer.0.attention.self.query.weight"
  std::vector<std::int64_t> shape;
  std::size_t offset = 0;  // in floats, into the flat buffer
  std::size_t numel = 0;
};

struct ParamLayout {
  std::vector<ParamTensor> tensors;
  std::size_t total = 0;  // floats

  static ParamLayout for_tensors(const std::vector<ParamTensor>& specs);
  const ParamTensor& at(const std::string& name) const;    // aborts on an unknown name
  const ParamTensor* find(const std::string& name) const;  // null for an unknown name
  // The first tensor holding a NaN or an infinity in `values` (laid out by this layout), or
  // nullptr when every value is finite.
  const ParamTensor* first_non_finite(const float* values) const;
};

// Pointers to one layer's tensors inside a flat buffer laid out by the BERT layout.
struct LayerWeights {
  float* qkv_w;       // (3C, C): query, key, value rows
  float* qkv_b;       // (3C)
  float* attn_out_w;  // (C, C) attention.output.dense
  float* attn_out_b;
  float* attention_ln_w;  // (C) attention.output.LayerNorm
  float* attention_ln_b;
  float* fc_w;  // (I, C) intermediate.dense
  float* fc_b;
  float* proj_w;  // (C, I) output.dense
  float* proj_b;
  float* output_ln_w;  // (C) output.LayerNorm
  float* output_ln_b;
};

// BERT's tensors and the Dense modules' after it (the model's trainable parameters).
struct BertWeights {
  float* wte;  // (V, C)
  float* wpe;  // (P, C)
  float* wtt;  // (T, C)
  float* emb_ln_w;
  float* emb_ln_b;
  std::vector<LayerWeights> layers;
  std::vector<DenseWeights> dense;  // ModelFiles::dense's, in order
};

// The trainable BERT tensors (no pooler) in checkpoint order.
ParamLayout bert_layout(const BertConfig& config);
// bert_layout, then each Dense module's weight and bias.
ParamLayout model_layout(const ModelFiles& files);
// Resolves tensor pointers of `layout` (from bert_layout or model_layout) inside `base`.
BertWeights bert_weights(const ParamLayout& layout, const BertConfig& config, float* base);

// The model's parameters plus the tensors that ride along unchanged (the pooler).
struct BertParams {
  ParamLayout layout;
  std::vector<float> values;
  ParamLayout extra_layout;
  std::vector<float> extra_values;

  // Reads and checks the weights in `weights`, a directory or one weight file (Weights::open),
  // against config.json (names, shapes, dtypes; every value finite: a NaN or infinity throws
  // Error naming the tensor).
  static BertParams load(const std::filesystem::path& weights, const BertConfig& config);
  // The whole model: the Transformer directory's weights, then each Dense module's from its folder
  // (shapes checked against its config.json).
  static BertParams load(const ModelFiles& files);
  // Hugging Face's BertPreTrainedModel._init_weights: Linear and Embedding weights
  // ~ normal(0, initializer_range), the padding_idx embedding row 0, biases 0, LayerNorm 1/0.
  static BertParams init(const BertConfig& config, std::uint64_t seed);

  // Every tensor (trainable and extra) for save_safetensors.
  std::vector<TensorRef> tensor_refs() const;
};

}  // namespace simtune

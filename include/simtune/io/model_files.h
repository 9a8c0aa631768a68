// A sentence-transformers model directory: modules.json, the Transformer module's config.json
// and sentence_bert_config.json, 1_Pooling/config.json and an optional Normalize module.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "simtune/io/modules.h"
#include "simtune/io/safetensors.h"
#include "simtune/io/weights.h"

namespace simtune {

// Hugging Face BertConfig fields simtune uses (config.json); `raw` keeps the whole file so that
// a saved model writes it back unchanged.
struct BertConfig {
  int vocab_size = 0;
  int hidden_size = 0;
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  int intermediate_size = 0;
  int max_position_embeddings = 0;
  int type_vocab_size = 0;
  int pad_token_id = 0;
  float layer_norm_eps = 1e-12f;
  float initializer_range = 0.02f;
  float hidden_dropout_prob = 0.1f;
  float attention_probs_dropout_prob = 0.1f;
  std::string hidden_act = "gelu";
  nlohmann::json raw;

  // Throws Error naming `origin` and the field when a field is missing, mistyped or
  // unsupported (model_type other than bert, hidden_act other than exact gelu, hidden_size not
  // divisible by num_attention_heads, position_embedding_type other than absolute).
  static BertConfig from_json(const nlohmann::json& j, const std::string& origin);
};

// sentence-transformers Pooling module (1_Pooling/config.json). When several modes are set the
// output is their concatenation in sentence-transformers' order:
// cls, max, mean, mean_sqrt_len_tokens, weightedmean, lasttoken.
struct PoolingConfig {
  int word_embedding_dimension = 0;
  bool cls_token = false;
  bool max_tokens = false;
  bool mean_tokens = true;
  bool mean_sqrt_len_tokens = false;
  bool weightedmean_tokens = false;
  bool lasttoken = false;
  int output_dimension() const;
};

struct ModelFiles {
  std::filesystem::path dir;              // the model directory
  std::vector<ModuleEntry> modules;       // modules.json; empty for a plain Hugging Face model
  std::filesystem::path transformer_dir;  // config.json, tokenizer, weights
  BertConfig bert;
  PoolingConfig pooling;
  bool normalize = false;          // a Normalize module follows pooling
  std::size_t max_seq_length = 0;  // sentence_bert_config.json, else min(512, max positions)
};

// Reads and validates a model directory. A plain Hugging Face BERT directory (no modules.json)
// gets mean pooling, as sentence-transformers gives it. Throws Error naming the file at fault.
ModelFiles load_model_files(const std::filesystem::path& dir);

// Checks every tensor the BERT model needs is present with the dtype and shape config.json
// implies (an optional "bert." prefix is accepted, unused pooler.* tensors are fine); throws
// Error naming the tensor otherwise.
void check_weights(const Weights& weights, const BertConfig& config);

// Writes a complete sentence-transformers directory at `out` (created if needed): the
// tokenizer files, config.json, modules.json, sentence_bert_config.json, 1_Pooling/config.json
// and config_sentence_transformers.json taken from `source` (written fresh where `source` lacks
// them), plus `weights` as out/model.safetensors. Every file is written atomically.
void write_model_directory(const ModelFiles& source, const std::filesystem::path& out,
                           const std::vector<TensorRef>& weights);

}  // namespace simtune

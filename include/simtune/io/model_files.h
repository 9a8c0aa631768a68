// A sentence-transformers model directory: modules.json, the Transformer module's config.json
// and sentence_bert_config.json, the Pooling module's config.json, Dense modules, an optional
// Normalize module, and config_sentence_transformers.json (prompts, similarity function).
// Written by sentence-transformers 2.x-5.x or 6.x.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
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
// 6.x writes the same as {"embedding_dimension", "pooling_mode": "mean" or a list of modes}.
struct PoolingConfig {
  int word_embedding_dimension = 0;
  // false: a prompt's tokens ([CLS] and the prompt's own) are left out of every mode.
  bool include_prompt = true;
  bool cls_token = false;
  bool max_tokens = false;
  bool mean_tokens = true;
  bool mean_sqrt_len_tokens = false;
  bool weightedmean_tokens = false;
  bool lasttoken = false;
  int output_dimension() const;
};

// The torch activations a Dense module may name in its activation_function.
enum class Activation { Identity, Tanh, ReLU, GELU, Sigmoid };
// The torch class path sentence-transformers writes, e.g. "torch.nn.modules.activation.Tanh".
const char* activation_type_name(Activation activation);

// sentence-transformers' Dense module (<path>/config.json): activation(x W^T + b) of the sentence
// embedding x, W (out_features, in_features).
struct DenseConfig {
  int in_features = 0;
  int out_features = 0;
  bool bias = true;
  Activation activation = Activation::Tanh;  // the library's default
  std::filesystem::path dir;                 // the module's folder: config.json and weights
};

// In simtune's parameter layout (and checkpoints), Dense module `index` (0 for the first) has its
// tensors under this prefix plus the names of its own weight file: "dense.0.linear.weight".
std::string dense_tensor_prefix(std::size_t index);

struct ModelFiles {
  std::filesystem::path dir;              // the model directory
  std::vector<ModuleEntry> modules;       // modules.json; empty for a plain Hugging Face model
  std::filesystem::path transformer_dir;  // config.json, tokenizer, weights
  BertConfig bert;
  PoolingConfig pooling;
  std::vector<DenseConfig> dense;  // Dense modules after pooling, in order
  bool normalize = false;          // a Normalize module follows
  // sentence_bert_config.json, else tokenizer_config.json's model_max_length, else the position
  // table (the smaller of the last two)
  std::size_t max_seq_length = 0;
  // sentence_bert_config.json's do_lower_case: the Transformer lowercases the text with Python's
  // str.lower() before its tokenizer sees it.
  bool do_lower_case = false;
  // config_sentence_transformers.json
  std::map<std::string, std::string> prompts;  // name -> text prepended to every input
  std::string default_prompt_name;             // "" for none
  std::string similarity_fn_name = "cosine";   // cosine, dot, euclidean or manhattan

  // The sentence embedding's size: the last Dense module's out_features, else pooling's.
  int embedding_dimension() const;
};

// Reads and validates a model directory. A plain Hugging Face BERT directory (no modules.json)
// gets mean pooling, as sentence-transformers gives it. Throws Error naming the file at fault.
ModelFiles load_model_files(const std::filesystem::path& dir);

// Checks every tensor the BERT model needs is present with the dtype and shape config.json
// implies (an optional "bert." prefix is accepted, unused pooler.* tensors are fine); throws
// Error naming the tensor otherwise.
void check_weights(const Weights& weights, const BertConfig& config);

// Writes a complete sentence-transformers directory at `out` (created if needed) in the 2.x-5.x
// layout, which every library version reads: the tokenizer files, config.json, modules.json,
// sentence_bert_config.json, 1_Pooling/config.json, each Dense module as <idx>_Dense/ and
// config_sentence_transformers.json taken from `source` (written fresh where `source` lacks
// them). `weights` go to out/model.safetensors, except the Dense modules' tensors
// (dense_tensor_prefix), which go to their folders. Every file is written atomically.
void write_model_directory(const ModelFiles& source, const std::filesystem::path& out,
                           const std::vector<TensorRef>& weights);

}  // namespace simtune

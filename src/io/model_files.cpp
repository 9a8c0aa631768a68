#include "simtune/io/model_files.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <optional>
#include <set>

#include "io/float_convert.h"
#include "simtune/core/error.h"
#include "simtune/core/file.h"
#include "simtune/io/bert_tensors.h"

namespace simtune {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// Tokenizer files a BERT directory may carry; all are copied verbatim when saving.
constexpr const char* kTokenizerFiles[] = {"vocab.txt", "tokenizer.json", "tokenizer_config.json",
                                           "special_tokens_map.json", "added_tokens.json"};

json read_json(const fs::path& path) {
  const std::string text = read_file(path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw Error(path.string() + ": not valid JSON: " + e.what());
  }
}

json read_json_object(const fs::path& path) {
  json j = read_json(path);
  if (!j.is_object()) throw Error(path.string() + ": expected a JSON object");
  return j;
}

std::string dump_file(const json& j) {
  return j.dump(2) + "\n";
}

int get_int(const json& j, const char* key, const std::string& origin, std::optional<int> fallback,
            int min_value) {
  const auto it = j.find(key);
  if (it == j.end()) {
    if (fallback) return *fallback;
    throw Error(origin + ": missing field \"" + key + "\"");
  }
  if (!it->is_number_integer()) {
    throw Error(origin + ": field \"" + key + "\" is " + it->dump() + ", expected an integer");
  }
  const std::int64_t v = it->get<std::int64_t>();
  if (v < min_value || v > (1 << 30)) {
    throw Error(origin + ": field \"" + key + "\" is " + std::to_string(v) +
                ", expected an integer >= " + std::to_string(min_value));
  }
  return static_cast<int>(v);
}

float get_float(const json& j, const char* key, const std::string& origin, float fallback) {
  const auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (!it->is_number()) {
    throw Error(origin + ": field \"" + key + "\" is " + it->dump() + ", expected a number");
  }
  const double v = it->get<double>();
  if (!(std::fabs(v) <= std::numeric_limits<float>::max())) {
    throw Error(origin + ": field \"" + key + "\" is " + it->dump() + ", outside float's range");
  }
  return static_cast<float>(v);
}

std::string get_string(const json& j, const char* key, const std::string& origin,
                       const std::string& fallback) {
  const auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (!it->is_string()) {
    throw Error(origin + ": field \"" + key + "\" is " + it->dump() + ", expected a string");
  }
  return it->get<std::string>();
}

bool get_bool(const json& j, const char* key, const std::string& origin, bool fallback) {
  const auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (!it->is_boolean()) {
    throw Error(origin + ": field \"" + key + "\" is " + it->dump() + ", expected true or false");
  }
  return it->get<bool>();
}

// sentence-transformers' pooling modes, in the order their outputs are concatenated, with the
// 2.x-5.x flag each one has.
struct PoolingMode {
  const char* name;  // 6.x's pooling_mode value
  const char* flag;  // 2.x-5.x's pooling_mode_* key
  bool PoolingConfig::*field;
};
constexpr PoolingMode kPoolingModes[] = {
    {"cls", "pooling_mode_cls_token", &PoolingConfig::cls_token},
    {"max", "pooling_mode_max_tokens", &PoolingConfig::max_tokens},
    {"mean", "pooling_mode_mean_tokens", &PoolingConfig::mean_tokens},
    {"mean_sqrt_len_tokens", "pooling_mode_mean_sqrt_len_tokens",
     &PoolingConfig::mean_sqrt_len_tokens},
    {"weightedmean", "pooling_mode_weightedmean_tokens", &PoolingConfig::weightedmean_tokens},
    {"lasttoken", "pooling_mode_lasttoken", &PoolingConfig::lasttoken},
};

// pooling_mode: one mode's name, or (6.x) a list of names, which 6.x concatenates in the list's
// order; simtune concatenates in the table's, so another order is refused.
void read_pooling_mode(PoolingConfig& p, const json& mode, const std::string& origin) {
  const json modes = mode.is_array() ? mode : json::array({mode});
  for (const PoolingMode& m : kPoolingModes) p.*m.field = false;
  int last = -1;
  for (const json& name : modes) {
    const auto* it = std::find_if(std::begin(kPoolingModes), std::end(kPoolingModes),
                                  [&](const PoolingMode& m) { return name == m.name; });
    if (it == std::end(kPoolingModes)) {
      throw Error(origin + ": pooling_mode " + name.dump() +
                  " is not one of cls, max, mean, mean_sqrt_len_tokens, weightedmean, lasttoken");
    }
    const int index = static_cast<int>(it - std::begin(kPoolingModes));
    if (index <= last) {
      throw Error(origin + ": pooling_mode " + mode.dump() +
                  " must list its modes once each in the order cls, max, mean, "
                  "mean_sqrt_len_tokens, weightedmean, lasttoken");
    }
    last = index;
    p.*it->field = true;
  }
}

// Mirrors the Pooling module of both generations: 2.x-5.x pass the file as keyword arguments
// (word_embedding_dimension and pooling_mode_* flags, absent flags taking Pooling.__init__'s
// defaults: mean only), 6.x reads embedding_dimension and pooling_mode and converts the old
// flags. A "pooling_mode" overrides every flag in both. Unknown keys are an error, as there.
PoolingConfig parse_pooling(const json& j, const std::string& origin) {
  std::set<std::string> known = {"word_embedding_dimension", "embedding_dimension", "pooling_mode",
                                 "include_prompt"};
  for (const PoolingMode& m : kPoolingModes) known.insert(m.flag);
  for (const auto& [key, value] : j.items()) {
    if (!known.contains(key)) throw Error(origin + ": unknown pooling option \"" + key + "\"");
  }
  PoolingConfig p;
  const char* dim_key =
      j.contains("embedding_dimension") ? "embedding_dimension" : "word_embedding_dimension";
  p.word_embedding_dimension = get_int(j, dim_key, origin, std::nullopt, 1);
  for (const PoolingMode& m : kPoolingModes) {
    p.*m.field = get_bool(j, m.flag, origin, m.field == &PoolingConfig::mean_tokens);
  }
  p.include_prompt = get_bool(j, "include_prompt", origin, true);
  const auto mode_it = j.find("pooling_mode");
  if (mode_it != j.end() && !mode_it->is_null()) {
    if (!mode_it->is_string() && !mode_it->is_array()) {
      throw Error(origin + ": pooling_mode is " + mode_it->dump() +
                  ", expected a mode name or a list of them");
    }
    read_pooling_mode(p, *mode_it, origin);
  }
  if (p.output_dimension() == 0) throw Error(origin + ": no pooling mode is enabled");
  return p;
}

json pooling_to_json(const PoolingConfig& p) {
  // Every pooling_mode_* flag, as sentence-transformers >= 2.2 writes and reads them.
  json j = json::object();
  j["word_embedding_dimension"] = p.word_embedding_dimension;
  for (const PoolingMode& m : kPoolingModes) j[m.flag] = p.*m.field;
  // Only sentence-transformers >= 3 knows include_prompt; its default (true) is left out so
  // that 2.x loads the file too.
  if (!p.include_prompt) j["include_prompt"] = false;
  return j;
}

// sentence-transformers' Transformer.__init__: when no max_seq_length is configured it takes
// min(config.max_position_embeddings, tokenizer.model_max_length); a tokenizer_config.json
// without model_max_length leaves transformers' "very large" default, so the position table wins.
std::size_t default_max_seq_length(const fs::path& transformer_dir, const BertConfig& bert) {
  std::size_t n = static_cast<std::size_t>(bert.max_position_embeddings);
  const fs::path tok = transformer_dir / "tokenizer_config.json";
  if (fs::exists(tok)) {
    const json j = read_json_object(tok);
    const auto it = j.find("model_max_length");
    if (it != j.end() && it->is_number() && it->get<double>() >= 1 &&
        it->get<double>() < static_cast<double>(n)) {
      n = static_cast<std::size_t>(it->get<double>());
    }
  }
  return n;
}

void read_transformer(ModelFiles& files) {
  files.bert = BertConfig::from_json(read_json_object(files.transformer_dir / "config.json"),
                                     (files.transformer_dir / "config.json").string());
  const fs::path sbert = files.transformer_dir / "sentence_bert_config.json";
  files.max_seq_length = default_max_seq_length(files.transformer_dir, files.bert);
  if (fs::exists(sbert)) {
    const json j = read_json_object(sbert);
    const std::string origin = sbert.string();
    if (j.contains("max_seq_length") && !j["max_seq_length"].is_null()) {
      files.max_seq_length =
          static_cast<std::size_t>(get_int(j, "max_seq_length", origin, std::nullopt, 1));
    }
    files.do_lower_case = get_bool(j, "do_lower_case", origin, false);
    if (files.max_seq_length > static_cast<std::size_t>(files.bert.max_position_embeddings)) {
      throw Error(origin + ": max_seq_length " + std::to_string(files.max_seq_length) +
                  " exceeds max_position_embeddings " +
                  std::to_string(files.bert.max_position_embeddings) + " in config.json");
    }
  }
}

// The activations a Dense module may name, by the torch class path sentence-transformers
// writes (fullname of the module); GELU is torch's default, the exact erf form.
struct ActivationType {
  Activation activation;
  const char* type;
};
constexpr ActivationType kActivations[] = {
    {Activation::Identity, "torch.nn.modules.linear.Identity"},
    {Activation::Tanh, "torch.nn.modules.activation.Tanh"},
    {Activation::ReLU, "torch.nn.modules.activation.ReLU"},
    {Activation::GELU, "torch.nn.modules.activation.GELU"},
    {Activation::Sigmoid, "torch.nn.modules.activation.Sigmoid"},
};

// Dense.load: the config's keys are Dense.__init__'s arguments. 6.x adds the feature names it
// reads and writes and an optional residual, which simtune supports in their default form only.
DenseConfig parse_dense(const fs::path& dir) {
  const fs::path path = dir / "config.json";
  const std::string origin = path.string();
  const json j = read_json_object(path);
  DenseConfig d;
  d.dir = dir;
  d.in_features = get_int(j, "in_features", origin, std::nullopt, 1);
  d.out_features = get_int(j, "out_features", origin, std::nullopt, 1);
  d.bias = get_bool(j, "bias", origin, true);
  const auto act = j.find("activation_function");
  if (act != j.end()) {
    if (act->is_null()) {
      d.activation = Activation::Identity;  // Dense(activation_function=None)
    } else {
      const std::string type = get_string(j, "activation_function", origin, "");
      const auto* it = std::find_if(std::begin(kActivations), std::end(kActivations),
                                    [&](const ActivationType& a) { return type == a.type; });
      if (it == std::end(kActivations)) {
        std::string names;
        for (const ActivationType& a : kActivations) names += std::string(" ") + a.type;
        throw Error(origin + ": activation_function \"" + type +
                    "\" is not supported (expected one of" + names + ")");
      }
      d.activation = it->activation;
    }
  }
  for (const char* key : {"module_input_name", "module_output_name"}) {
    const auto it = j.find(key);
    if (it != j.end() && !it->is_null() && *it != "sentence_embedding") {
      throw Error(origin + ": " + key + " " + it->dump() +
                  " is not supported (simtune's Dense reads and writes sentence_embedding)");
    }
  }
  if (get_bool(j, "use_residual", origin, false)) {
    throw Error(origin + ": use_residual=true is not supported");
  }
  return d;
}

// config_sentence_transformers.json: prompts, the default prompt's name and the similarity
// function, as SentenceTransformer reads them (absent: no prompts, cosine).
void read_sentence_transformers_config(ModelFiles& files) {
  const fs::path path = files.dir / "config_sentence_transformers.json";
  if (!fs::exists(path)) return;
  const std::string origin = path.string();
  const json j = read_json_object(path);
  const auto prompts = j.find("prompts");
  if (prompts != j.end() && !prompts->is_null()) {
    if (!prompts->is_object()) throw Error(origin + ": prompts must be an object");
    for (const auto& [name, text] : prompts->items()) {
      if (!text.is_string()) {
        throw Error(origin + ": prompt \"" + name + "\" is " + text.dump() + ", expected a string");
      }
      files.prompts[name] = text.get<std::string>();
    }
  }
  const auto def = j.find("default_prompt_name");
  if (def != j.end() && !def->is_null()) {
    files.default_prompt_name = get_string(j, "default_prompt_name", origin, "");
    if (!files.prompts.contains(files.default_prompt_name)) {
      throw Error(origin + ": default_prompt_name \"" + files.default_prompt_name +
                  "\" is not one of the prompts");
    }
  }
  const auto sim = j.find("similarity_fn_name");
  if (sim != j.end() && !sim->is_null()) {
    files.similarity_fn_name = get_string(j, "similarity_fn_name", origin, "");
    static const std::set<std::string> names = {"cosine", "dot", "euclidean", "manhattan"};
    if (!names.contains(files.similarity_fn_name)) {
      throw Error(origin + ": similarity_fn_name \"" + files.similarity_fn_name +
                  "\" is not one of cosine, dot, euclidean, manhattan");
    }
  }
}

// Sizes far beyond any BERT (the largest vocabularies are about 250k, hidden sizes 8k) are
// refused here, before any buffer is sized from them, as is a parameter count whose buffers
// would not fit a machine's memory.
void check_config_bounds(const BertConfig& c, const std::string& origin) {
  const std::pair<const char*, std::int64_t> sizes[] = {
      {"vocab_size", c.vocab_size},
      {"hidden_size", c.hidden_size},
      {"num_hidden_layers", c.num_hidden_layers},
      {"num_attention_heads", c.num_attention_heads},
      {"intermediate_size", c.intermediate_size},
      {"max_position_embeddings", c.max_position_embeddings},
      {"type_vocab_size", c.type_vocab_size}};
  const std::int64_t limits[] = {1 << 22, 1 << 15, 512, 1 << 12, 1 << 17, 1 << 17, 1 << 12};
  for (std::size_t i = 0; i < std::size(sizes); i++) {
    if (sizes[i].second > limits[i]) {
      throw Error(origin + ": field \"" + sizes[i].first + "\" is " +
                  std::to_string(sizes[i].second) + ", more than simtune accepts (" +
                  std::to_string(limits[i]) + ")");
    }
  }
  const double h = c.hidden_size;
  const double params =
      h * (c.vocab_size + c.max_position_embeddings + c.type_vocab_size) +
      c.num_hidden_layers * (4.0 * h * h + 2.0 * h * c.intermediate_size + 9.0 * h);
  if (params > 4e9) {
    throw Error(origin + ": the configuration implies " + std::to_string(std::llround(params)) +
                " parameters, more than simtune accepts (4e9)");
  }
  const std::pair<const char*, float> dropouts[] = {
      {"hidden_dropout_prob", c.hidden_dropout_prob},
      {"attention_probs_dropout_prob", c.attention_probs_dropout_prob}};
  for (const auto& [key, p] : dropouts) {
    if (!(p >= 0.0f && p < 1.0f)) {
      throw Error(origin + ": field \"" + key + "\" is " + std::to_string(p) +
                  ", expected a probability in [0, 1)");
    }
  }
  if (!(c.initializer_range >= 0.0f) || !std::isfinite(c.initializer_range)) {
    throw Error(origin + ": initializer_range must be a finite number >= 0");
  }
}

}  // namespace

BertConfig BertConfig::from_json(const nlohmann::json& j, const std::string& origin) {
  if (!j.is_object()) throw Error(origin + ": expected a JSON object");
  const std::string model_type = get_string(j, "model_type", origin, "bert");
  if (model_type != "bert") {
    throw Error(origin + ": model_type \"" + model_type + "\" is not supported (expected bert)");
  }
  BertConfig c;
  // Dimensions that fix the tensor shapes are required; the rest take transformers'
  // BertConfig defaults when absent.
  c.vocab_size = get_int(j, "vocab_size", origin, std::nullopt, 1);
  c.hidden_size = get_int(j, "hidden_size", origin, std::nullopt, 1);
  c.num_hidden_layers = get_int(j, "num_hidden_layers", origin, std::nullopt, 1);
  c.num_attention_heads = get_int(j, "num_attention_heads", origin, std::nullopt, 1);
  c.intermediate_size = get_int(j, "intermediate_size", origin, std::nullopt, 1);
  c.max_position_embeddings = get_int(j, "max_position_embeddings", origin, std::nullopt, 1);
  c.type_vocab_size = get_int(j, "type_vocab_size", origin, 2, 1);
  c.pad_token_id = get_int(j, "pad_token_id", origin, 0, 0);
  c.layer_norm_eps = get_float(j, "layer_norm_eps", origin, 1e-12f);
  c.initializer_range = get_float(j, "initializer_range", origin, 0.02f);
  c.hidden_dropout_prob = get_float(j, "hidden_dropout_prob", origin, 0.1f);
  c.attention_probs_dropout_prob = get_float(j, "attention_probs_dropout_prob", origin, 0.1f);
  c.hidden_act = get_string(j, "hidden_act", origin, "gelu");
  if (c.hidden_act != "gelu") {
    throw Error(origin + ": hidden_act \"" + c.hidden_act +
                "\" is not supported (expected gelu, the exact erf form)");
  }
  const std::string pos = get_string(j, "position_embedding_type", origin, "absolute");
  if (pos != "absolute") {
    throw Error(origin + ": position_embedding_type \"" + pos +
                "\" is not supported (expected absolute)");
  }
  if (c.hidden_size % c.num_attention_heads != 0) {
    throw Error(origin + ": hidden_size " + std::to_string(c.hidden_size) +
                " is not divisible by num_attention_heads " +
                std::to_string(c.num_attention_heads));
  }
  if (c.pad_token_id >= c.vocab_size) {
    throw Error(origin + ": pad_token_id " + std::to_string(c.pad_token_id) +
                " is outside vocab_size " + std::to_string(c.vocab_size));
  }
  if (!(c.layer_norm_eps > 0.0f) || !std::isfinite(c.layer_norm_eps)) {
    throw Error(origin + ": layer_norm_eps must be a positive number");
  }
  check_config_bounds(c, origin);
  c.raw = j;
  return c;
}

const char* activation_type_name(Activation activation) {
  for (const ActivationType& a : kActivations) {
    if (a.activation == activation) return a.type;
  }
  return "";
}

std::string dense_tensor_prefix(std::size_t index) {
  return "dense." + std::to_string(index) + ".";
}

int ModelFiles::embedding_dimension() const {
  return dense.empty() ? pooling.output_dimension() : dense.back().out_features;
}

int PoolingConfig::output_dimension() const {
  const int modes = int(cls_token) + int(max_tokens) + int(mean_tokens) +
                    int(mean_sqrt_len_tokens) + int(weightedmean_tokens) + int(lasttoken);
  return modes * word_embedding_dimension;
}

ModelFiles load_model_files(const fs::path& dir) {
  ModelFiles files;
  files.dir = dir;
  const fs::path modules_file = dir / "modules.json";
  if (!fs::exists(modules_file)) {
    if (!fs::exists(dir / "config.json")) {
      throw Error(dir.string() + ": not a model directory (neither modules.json nor config.json)");
    }
    // SentenceTransformer._load_auto_model: a plain Hugging Face model gets a Transformer and
    // a mean Pooling module over its hidden size.
    files.transformer_dir = dir;
    read_transformer(files);
    files.pooling.word_embedding_dimension = files.bert.hidden_size;
    read_sentence_transformers_config(files);
    return files;
  }

  const std::string origin = modules_file.string();
  files.modules = read_modules(modules_file);
  const std::vector<ModuleEntry>& modules = files.modules;
  for (const ModuleEntry& m : modules) {
    if (!m.kind) {
      throw Error(origin + ": module type \"" + m.type +
                  "\" is not supported (simtune runs Transformer, Pooling, Dense and Normalize "
                  "modules of BERT-family text encoders)");
    }
  }
  // simtune runs exactly Transformer -> Pooling -> Dense... [-> Normalize]; anything else would
  // silently change the embedding, so it is refused.
  std::size_t n = 2;
  while (n < modules.size() && modules[n].kind == ModuleKind::Dense) n++;
  files.normalize = n < modules.size() && modules[n].kind == ModuleKind::Normalize;
  const bool shape_ok = modules.size() >= 2 && modules[0].kind == ModuleKind::Transformer &&
                        modules[1].kind == ModuleKind::Pooling &&
                        n + (files.normalize ? 1 : 0) == modules.size();
  if (!shape_ok) {
    throw Error(origin +
                ": expected modules Transformer, Pooling, any Dense and optionally Normalize, in "
                "that order");
  }
  files.transformer_dir = module_dir(dir, modules[0]);
  read_transformer(files);
  const fs::path pooling_file = module_dir(dir, modules[1]) / "config.json";
  files.pooling = parse_pooling(read_json_object(pooling_file), pooling_file.string());
  if (files.pooling.word_embedding_dimension != files.bert.hidden_size) {
    throw Error(pooling_file.string() + ": embedding dimension " +
                std::to_string(files.pooling.word_embedding_dimension) +
                " differs from hidden_size " + std::to_string(files.bert.hidden_size) +
                " in config.json");
  }
  for (std::size_t i = 2; i < n; i++) {
    const int in = files.embedding_dimension();
    files.dense.push_back(parse_dense(module_dir(dir, modules[i])));
    if (files.dense.back().in_features != in) {
      throw Error((module_dir(dir, modules[i]) / "config.json").string() + ": in_features " +
                  std::to_string(files.dense.back().in_features) +
                  " differs from the previous module's output dimension " + std::to_string(in));
    }
  }
  read_sentence_transformers_config(files);
  return files;
}

void check_weights(const Weights& weights, const BertConfig& config) {
  // Checkpoints saved from BertForPreTraining and friends prefix every name with "bert.".
  const bool prefixed = weights.find("bert.embeddings.word_embeddings.weight") != nullptr;
  const std::string prefix = prefixed ? "bert." : "";
  auto check = [&](const BertTensorSpec& spec, bool required) {
    const std::string name = prefix + spec.name;
    const TensorInfo* t = weights.find(name);
    if (t == nullptr) {
      if (!required) return;
      throw Error(weights.origin() + ": missing tensor \"" + name + "\"");
    }
    if (!is_floating(t->dtype)) {
      throw Error(weights.origin(*t) + ": tensor \"" + name + "\" has dtype " +
                  dtype_name(t->dtype) + ", expected a floating dtype");
    }
    if (t->shape != spec.shape) {
      auto str = [](const std::vector<std::int64_t>& s) { return json(s).dump(); };
      throw Error(weights.origin(*t) + ": tensor \"" + name + "\" has shape " + str(t->shape) +
                  ", config.json implies " + str(spec.shape));
    }
  };
  for (const BertTensorSpec& spec : bert_tensor_specs(config)) check(spec, true);
  for (const BertTensorSpec& spec : bert_pooler_specs(config)) check(spec, false);
}

void write_model_directory(const ModelFiles& source, const fs::path& out,
                           const std::vector<TensorRef>& weights) {
  fs::create_directories(out);
  for (const char* name : kTokenizerFiles) {
    const fs::path from = source.transformer_dir / name;
    if (fs::exists(from)) write_file_atomic(out / name, read_file(from));
  }
  write_file_atomic(out / "config.json", dump_file(source.bert.raw));

  // modules.json is always regenerated: the output uses the standard layout (Transformer at the
  // root, Pooling in 1_Pooling, then <idx>_Dense folders and <idx>_Normalize) whatever paths the
  // source used. The Dense modules' tensors leave `weights` for their own folders.
  json modules = json::array();
  auto add = [&](ModuleKind kind) {
    const int idx = static_cast<int>(modules.size());
    const std::string path =
        kind == ModuleKind::Transformer ? "" : std::to_string(idx) + "_" + module_kind_name(kind);
    if (!path.empty()) fs::create_directories(out / path);
    modules.push_back({{"idx", idx},
                       {"name", std::to_string(idx)},
                       {"path", path},
                       {"type", module_type_name(kind)}});
    return out / path;
  };
  add(ModuleKind::Transformer);
  add(ModuleKind::Pooling);
  std::vector<TensorRef> bert_weights = weights;
  for (std::size_t k = 0; k < source.dense.size(); k++) {
    const DenseConfig& d = source.dense[k];
    const fs::path dir = add(ModuleKind::Dense);
    const json config = {{"in_features", d.in_features},
                         {"out_features", d.out_features},
                         {"bias", d.bias},
                         {"activation_function", activation_type_name(d.activation)}};
    write_file_atomic(dir / "config.json", dump_file(config));
    std::vector<TensorRef> own;
    const std::string prefix = dense_tensor_prefix(k);
    std::erase_if(bert_weights, [&](const TensorRef& t) {
      if (!t.name.starts_with(prefix)) return false;
      own.push_back({t.name.substr(prefix.size()), t.shape, t.data});
      return true;
    });
    save_safetensors(dir / "model.safetensors", own);
  }
  if (source.normalize) add(ModuleKind::Normalize);
  write_file_atomic(out / "modules.json", dump_file(modules));

  // 2.x-5.x pass sentence_bert_config.json to Transformer.__init__ as keyword arguments, so it
  // holds exactly what they accept (6.x's extra keys would fail there).
  const json sbert = {{"max_seq_length", source.max_seq_length},
                      {"do_lower_case", source.do_lower_case}};
  write_file_atomic(out / "sentence_bert_config.json", dump_file(sbert));

  write_file_atomic(out / "1_Pooling" / "config.json", dump_file(pooling_to_json(source.pooling)));

  // Copied for the keys simtune does not model (model card data, ...) besides the prompts and
  // the similarity function.
  const fs::path st_src = source.dir / "config_sentence_transformers.json";
  if (fs::exists(st_src)) {
    write_file_atomic(out / "config_sentence_transformers.json", read_file(st_src));
  } else {
    // sentence-transformers records the library versions that wrote the model and only warns
    // when they are newer than the reader's; these are the oldest versions whose loaders read
    // every file written here.
    const json st = {
        {"__version__",
         {{"sentence_transformers", "2.2.2"}, {"transformers", "4.26.0"}, {"pytorch", "1.13.0"}}}};
    write_file_atomic(out / "config_sentence_transformers.json", dump_file(st));
  }
  save_safetensors(out / "model.safetensors", bert_weights);
}

}  // namespace simtune

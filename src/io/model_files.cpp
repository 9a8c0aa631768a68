#include "simtune/io/model_files.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <optional>
#include <set>

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
  return it->get<float>();
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

// Mirrors sentence_transformers.models.Pooling: Pooling.load passes the file as keyword
// arguments, so unknown keys are an error there too; a "pooling_mode" string overrides every
// pooling_mode_* flag; flags absent from the file take Pooling.__init__'s defaults (mean only).
PoolingConfig parse_pooling(const json& j, const std::string& origin) {
  static const std::set<std::string> known = {"word_embedding_dimension",
                                              "pooling_mode",
                                              "pooling_mode_cls_token",
                                              "pooling_mode_max_tokens",
                                              "pooling_mode_mean_tokens",
                                              "pooling_mode_mean_sqrt_len_tokens",
                                              "pooling_mode_weightedmean_tokens",
                                              "pooling_mode_lasttoken",
                                              "include_prompt"};
  for (const auto& [key, value] : j.items()) {
    if (!known.contains(key)) throw Error(origin + ": unknown pooling option \"" + key + "\"");
  }
  PoolingConfig p;
  p.word_embedding_dimension = get_int(j, "word_embedding_dimension", origin, std::nullopt, 1);
  p.cls_token = get_bool(j, "pooling_mode_cls_token", origin, false);
  p.max_tokens = get_bool(j, "pooling_mode_max_tokens", origin, false);
  p.mean_tokens = get_bool(j, "pooling_mode_mean_tokens", origin, true);
  p.mean_sqrt_len_tokens = get_bool(j, "pooling_mode_mean_sqrt_len_tokens", origin, false);
  p.weightedmean_tokens = get_bool(j, "pooling_mode_weightedmean_tokens", origin, false);
  p.lasttoken = get_bool(j, "pooling_mode_lasttoken", origin, false);
  // include_prompt only matters when a prompt is prepended, which simtune never does.
  get_bool(j, "include_prompt", origin, true);
  const auto mode_it = j.find("pooling_mode");
  if (mode_it != j.end() && !mode_it->is_null()) {
    const std::string mode = get_string(j, "pooling_mode", origin, "");
    static const std::set<std::string> modes = {
        "cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"};
    if (!modes.contains(mode)) {
      throw Error(origin + ": pooling_mode \"" + mode +
                  "\" is not one of cls, max, mean, mean_sqrt_len_tokens, weightedmean, lasttoken");
    }
    p.cls_token = mode == "cls";
    p.max_tokens = mode == "max";
    p.mean_tokens = mode == "mean";
    p.mean_sqrt_len_tokens = mode == "mean_sqrt_len_tokens";
    p.weightedmean_tokens = mode == "weightedmean";
    p.lasttoken = mode == "lasttoken";
  }
  if (p.output_dimension() == 0) throw Error(origin + ": no pooling mode is enabled");
  return p;
}

json pooling_to_json(const PoolingConfig& p) {
  // Every pooling_mode_* flag, as sentence-transformers >= 2.2 writes and reads them.
  json j = json::object();
  j["word_embedding_dimension"] = p.word_embedding_dimension;
  j["pooling_mode_cls_token"] = p.cls_token;
  j["pooling_mode_mean_tokens"] = p.mean_tokens;
  j["pooling_mode_max_tokens"] = p.max_tokens;
  j["pooling_mode_mean_sqrt_len_tokens"] = p.mean_sqrt_len_tokens;
  j["pooling_mode_weightedmean_tokens"] = p.weightedmean_tokens;
  j["pooling_mode_lasttoken"] = p.lasttoken;
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
    // Transformer lowercases the raw text with Python's str.lower() before tokenizing when this
    // is set; simtune's tokenizer only lowercases as tokenizer_config.json says.
    if (get_bool(j, "do_lower_case", origin, false)) {
      throw Error(origin +
                  ": do_lower_case=true is not supported (lowercase in the tokenizer "
                  "via tokenizer_config.json instead)");
    }
    if (files.max_seq_length > static_cast<std::size_t>(files.bert.max_position_embeddings)) {
      throw Error(origin + ": max_seq_length " + std::to_string(files.max_seq_length) +
                  " exceeds max_position_embeddings " +
                  std::to_string(files.bert.max_position_embeddings) + " in config.json");
    }
  }
  files.weights = files.transformer_dir / "model.safetensors";
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
    return files;
  }

  const std::string origin = modules_file.string();
  files.modules = read_modules(modules_file);
  const std::vector<ModuleEntry>& modules = files.modules;
  for (const ModuleEntry& m : modules) {
    if (!m.kind) {
      throw Error(origin + ": unsupported module type \"" + m.type +
                  "\" (simtune supports Transformer, Pooling and Normalize)");
    }
  }
  // simtune runs exactly Transformer -> Pooling [-> Normalize]; anything else would silently
  // change the embedding, so it is refused.
  const bool shape_ok = (modules.size() == 2 || modules.size() == 3) &&
                        modules[0].kind == ModuleKind::Transformer &&
                        modules[1].kind == ModuleKind::Pooling &&
                        (modules.size() == 2 || modules[2].kind == ModuleKind::Normalize);
  if (!shape_ok) {
    throw Error(origin +
                ": expected modules Transformer, Pooling and optionally Normalize, in "
                "that order");
  }
  files.transformer_dir = module_dir(dir, modules[0]);
  read_transformer(files);
  const fs::path pooling_file = module_dir(dir, modules[1]) / "config.json";
  files.pooling = parse_pooling(read_json_object(pooling_file), pooling_file.string());
  if (files.pooling.word_embedding_dimension != files.bert.hidden_size) {
    throw Error(pooling_file.string() + ": word_embedding_dimension " +
                std::to_string(files.pooling.word_embedding_dimension) +
                " differs from hidden_size " + std::to_string(files.bert.hidden_size) +
                " in config.json");
  }
  files.normalize = modules.size() == 3;
  return files;
}

void check_weights(const SafetensorsFile& file, const BertConfig& config) {
  // Checkpoints saved from BertForPreTraining and friends prefix every name with "bert.".
  const bool prefixed = file.find("bert.embeddings.word_embeddings.weight") != nullptr;
  const std::string prefix = prefixed ? "bert." : "";
  auto check = [&](const BertTensorSpec& spec, bool required) {
    const std::string name = prefix + spec.name;
    const TensorInfo* t = file.find(name);
    if (t == nullptr) {
      if (!required) return;
      throw Error(file.origin() + ": missing tensor \"" + name + "\"");
    }
    if (t->dtype != DType::F32 && t->dtype != DType::F16 && t->dtype != DType::BF16 &&
        t->dtype != DType::F64) {
      throw Error(file.origin() + ": tensor \"" + name + "\" has dtype " + dtype_name(t->dtype) +
                  ", expected a floating dtype");
    }
    if (t->shape != spec.shape) {
      auto str = [](const std::vector<std::int64_t>& s) { return json(s).dump(); };
      throw Error(file.origin() + ": tensor \"" + name + "\" has shape " + str(t->shape) +
                  ", config.json implies " + str(spec.shape));
    }
  };
  for (const BertTensorSpec& spec : bert_tensor_specs(config)) check(spec, true);
  for (const BertTensorSpec& spec : bert_pooler_specs(config)) check(spec, false);
}

void write_model_directory(const ModelFiles& source, const fs::path& out,
                           const std::vector<TensorRef>& weights) {
  fs::create_directories(out / "1_Pooling");
  for (const char* name : kTokenizerFiles) {
    const fs::path from = source.transformer_dir / name;
    if (fs::exists(from)) write_file_atomic(out / name, read_file(from));
  }
  write_file_atomic(out / "config.json", dump_file(source.bert.raw));

  // modules.json is always regenerated: the output uses the standard layout (Transformer at the
  // root, Pooling in 1_Pooling, Normalize in 2_Normalize) whatever paths the source used.
  json modules = json::array();
  auto add = [&](int idx, const char* path, ModuleKind kind) {
    modules.push_back({{"idx", idx},
                       {"name", std::to_string(idx)},
                       {"path", path},
                       {"type", module_type_name(kind)}});
  };
  add(0, "", ModuleKind::Transformer);
  add(1, "1_Pooling", ModuleKind::Pooling);
  if (source.normalize) {
    fs::create_directories(out / "2_Normalize");
    add(2, "2_Normalize", ModuleKind::Normalize);
  }
  write_file_atomic(out / "modules.json", dump_file(modules));

  // Files that may carry keys simtune does not model (prompts, similarity function, pooling's
  // include_prompt) are copied from the source; fresh ones are written as sentence-transformers
  // writes them. The source's sentence_bert_config.json still gets our max_seq_length.
  json sbert = json::object();
  const fs::path sbert_src = source.transformer_dir / "sentence_bert_config.json";
  if (fs::exists(sbert_src)) sbert = read_json_object(sbert_src);
  sbert["max_seq_length"] = source.max_seq_length;
  if (!sbert.contains("do_lower_case")) sbert["do_lower_case"] = false;
  write_file_atomic(out / "sentence_bert_config.json", dump_file(sbert));

  json pooling = pooling_to_json(source.pooling);
  if (source.modules.size() >= 2) {
    const fs::path pooling_src = module_dir(source.dir, source.modules[1]) / "config.json";
    const json old = read_json_object(pooling_src);
    // include_prompt is only known to sentence-transformers >= 3, so it is kept, not added.
    if (old.contains("include_prompt")) pooling["include_prompt"] = old["include_prompt"];
  }
  write_file_atomic(out / "1_Pooling" / "config.json", dump_file(pooling));

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
  save_safetensors(out / "model.safetensors", weights);
}

}  // namespace simtune

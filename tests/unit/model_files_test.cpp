#include "simtune/io/model_files.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include "test_errors.h"

#include <filesystem>
#include <string>
#include <vector>

#include "simtune/core/error.h"
#include "simtune/core/file.h"
#include "simtune/io/bert_tensors.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kMiniLM = fs::path(SIMTUNE_SOURCE_DIR) / "data/models/paraphrase-MiniLM-L6-v2";

fs::path temp_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() /
                 ("simtune_model_files_test_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_json(const fs::path& path, const json& j) {
  fs::create_directories(path.parent_path());
  write_file_atomic(path, j.dump(2));
}

// A copy of the MiniLM directory to mutate.
fs::path copy_minilm(const std::string& name) {
  const fs::path dir = temp_dir(name);
  fs::copy(kMiniLM, dir, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  return dir;
}

json read_json(const fs::path& path) {
  return json::parse(read_file(path));
}

using testing::error_of;

json module_entry(int idx, const std::string& path, const std::string& type) {
  return {{"idx", idx}, {"name", std::to_string(idx)}, {"path", path}, {"type", type}};
}

// Each config written to dir/file makes load_model_files(dir) fail naming the file and the needle.
void expect_errors(const fs::path& dir, const std::string& file,
                   const std::vector<std::pair<json, std::string>>& cases) {
  for (const auto& [cfg, needle] : cases) {
    write_json(dir / file, cfg);
    const std::string msg = error_of([&] { load_model_files(dir); });
    EXPECT_CONTAINS(msg, (dir / file).string());
    EXPECT_CONTAINS(msg, needle);
  }
}

TEST(ModelFiles, LoadsParaphraseMiniLM) {
  const ModelFiles m = load_model_files(kMiniLM);
  EXPECT_EQ(m.transformer_dir, kMiniLM);
  EXPECT_EQ(m.max_seq_length, 128u);
  EXPECT_FALSE(m.normalize);
  EXPECT_TRUE(m.pooling.mean_tokens);
  EXPECT_FALSE(m.pooling.cls_token || m.pooling.max_tokens || m.pooling.mean_sqrt_len_tokens ||
               m.pooling.weightedmean_tokens || m.pooling.lasttoken);
  EXPECT_EQ(m.pooling.word_embedding_dimension, 384);
  EXPECT_EQ(m.pooling.output_dimension(), 384);
  EXPECT_EQ(m.bert.vocab_size, 30522);
  EXPECT_EQ(m.bert.hidden_size, 384);
  EXPECT_EQ(m.bert.num_hidden_layers, 6);
  EXPECT_EQ(m.bert.num_attention_heads, 12);
  EXPECT_EQ(m.bert.intermediate_size, 1536);
  EXPECT_EQ(m.bert.max_position_embeddings, 512);
  EXPECT_EQ(m.bert.type_vocab_size, 2);
  EXPECT_EQ(m.bert.layer_norm_eps, 1e-12f);
  EXPECT_EQ(m.bert.hidden_act, "gelu");
  EXPECT_EQ(m.bert.raw, read_json(kMiniLM / "config.json"));
}

TEST(ModelFiles, EveryPoolingFlag) {
  const fs::path dir = copy_minilm("pooling");
  const std::vector<std::string> keys = {
      "pooling_mode_cls_token",           "pooling_mode_max_tokens",
      "pooling_mode_mean_tokens",         "pooling_mode_mean_sqrt_len_tokens",
      "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"};
  for (const std::string& key : keys) {
    json cfg = {{"word_embedding_dimension", 384}};
    for (const std::string& k : keys) cfg[k] = (k == key);
    write_json(dir / "1_Pooling/config.json", cfg);
    const PoolingConfig p = load_model_files(dir).pooling;
    EXPECT_EQ(p.cls_token, key == "pooling_mode_cls_token") << key;
    EXPECT_EQ(p.max_tokens, key == "pooling_mode_max_tokens") << key;
    EXPECT_EQ(p.mean_tokens, key == "pooling_mode_mean_tokens") << key;
    EXPECT_EQ(p.mean_sqrt_len_tokens, key == "pooling_mode_mean_sqrt_len_tokens") << key;
    EXPECT_EQ(p.weightedmean_tokens, key == "pooling_mode_weightedmean_tokens") << key;
    EXPECT_EQ(p.lasttoken, key == "pooling_mode_lasttoken") << key;
    EXPECT_EQ(p.output_dimension(), 384) << key;
  }
  // Several modes concatenate.
  write_json(dir / "1_Pooling/config.json", {{"word_embedding_dimension", 384},
                                             {"pooling_mode_cls_token", true},
                                             {"pooling_mode_max_tokens", true},
                                             {"include_prompt", true}});
  const PoolingConfig p = load_model_files(dir).pooling;
  EXPECT_TRUE(p.cls_token && p.max_tokens && p.mean_tokens);  // mean defaults to true
  EXPECT_EQ(p.output_dimension(), 3 * 384);
  fs::remove_all(dir);
}

TEST(ModelFiles, PoolingModeStringOverridesFlags) {
  const fs::path dir = copy_minilm("pooling_mode");
  const std::vector<std::pair<std::string, bool PoolingConfig::*>> modes = {
      {"cls", &PoolingConfig::cls_token},
      {"max", &PoolingConfig::max_tokens},
      {"mean", &PoolingConfig::mean_tokens},
      {"mean_sqrt_len_tokens", &PoolingConfig::mean_sqrt_len_tokens},
      {"weightedmean", &PoolingConfig::weightedmean_tokens},
      {"lasttoken", &PoolingConfig::lasttoken}};
  for (const auto& [mode, flag] : modes) {
    write_json(dir / "1_Pooling/config.json", {{"word_embedding_dimension", 384},
                                               {"pooling_mode", mode},
                                               {"pooling_mode_mean_tokens", mode != "mean"},
                                               {"pooling_mode_cls_token", mode != "cls"}});
    const PoolingConfig p = load_model_files(dir).pooling;
    EXPECT_TRUE(p.*flag) << mode;
    EXPECT_EQ(p.output_dimension(), 384) << mode;
  }
  fs::remove_all(dir);
}

TEST(ModelFiles, PoolingErrorsNameTheFile) {
  const fs::path dir = copy_minilm("pooling_errors");
  expect_errors(dir, "1_Pooling/config.json",
                {
                    {{{"word_embedding_dimension", 384}, {"pooling_mode", "median"}}, "median"},
                    {{{"word_embedding_dimension", 384}, {"pooling_mode_median", true}},
                     "pooling_mode_median"},
                    {{{"word_embedding_dimension", 384}, {"pooling_mode_mean_tokens", false}},
                     "no pooling mode"},
                    {{{"word_embedding_dimension", 768}}, "768"},
                    {{{"pooling_mode_mean_tokens", true}}, "word_embedding_dimension"},
                    {{{"word_embedding_dimension", 384}, {"pooling_mode_cls_token", "yes"}},
                     "pooling_mode_cls_token"},
                });
  fs::remove_all(dir);
}

TEST(ModelFiles, NormalizeModule) {
  const fs::path dir = copy_minilm("normalize");
  json modules = read_json(dir / "modules.json");
  modules.push_back(module_entry(2, "2_Normalize", "sentence_transformers.models.Normalize"));
  write_json(dir / "modules.json", modules);
  EXPECT_TRUE(load_model_files(dir).normalize);
  fs::remove_all(dir);
}

TEST(ModelFiles, UnsupportedModuleTypeNamesModulesJsonAndTheModule) {
  const fs::path dir = copy_minilm("unsupported");
  json modules = read_json(dir / "modules.json");
  modules.push_back(module_entry(2, "2_CLIP", "sentence_transformers.models.CLIPModel"));
  write_json(dir / "modules.json", modules);
  const std::string msg = error_of([&] { load_model_files(dir); });
  EXPECT_CONTAINS(msg, (dir / "modules.json").string());
  EXPECT_CONTAINS(msg, "sentence_transformers.models.CLIPModel");

  // Known types in the wrong order are refused too.
  write_json(dir / "modules.json", json::array({read_json(kMiniLM / "modules.json")[1],
                                                read_json(kMiniLM / "modules.json")[0]}));
  EXPECT_CONTAINS(error_of([&] { load_model_files(dir); }), "order");
  fs::remove_all(dir);
}

// The layout sentence-transformers 6 writes: new module type names, the new pooling keys,
// sentence_bert_config.json without a length (tokenizer_config.json's model_max_length rules),
// prompts and the similarity function in config_sentence_transformers.json.
TEST(ModelFiles, SentenceTransformers6Layout) {
  const fs::path dir = copy_minilm("st6");
  write_json(
      dir / "modules.json",
      json::array(
          {module_entry(0, "", "sentence_transformers.base.modules.transformer.Transformer"),
           module_entry(1, "1_Pooling",
                        "sentence_transformers.sentence_transformer.modules.pooling.Pooling"),
           module_entry(2, "2_Normalize",
                        "sentence_transformers.base.modules.normalize.Normalize")}));
  write_json(dir / "1_Pooling/config.json",
             {{"embedding_dimension", 384}, {"pooling_mode", "cls"}, {"include_prompt", false}});
  write_json(dir / "sentence_bert_config.json", {{"transformer_task", "feature-extraction"}});
  json tok = read_json(dir / "tokenizer_config.json");
  tok["model_max_length"] = 96;
  write_json(dir / "tokenizer_config.json", tok);
  write_json(dir / "config_sentence_transformers.json",
             {{"prompts", {{"query", "query: "}, {"document", ""}}},
              {"default_prompt_name", "query"},
              {"similarity_fn_name", "dot"}});
  const ModelFiles m = load_model_files(dir);
  EXPECT_TRUE(m.pooling.cls_token);
  EXPECT_FALSE(m.pooling.mean_tokens);
  EXPECT_FALSE(m.pooling.include_prompt);
  EXPECT_TRUE(m.normalize);
  EXPECT_EQ(m.max_seq_length, 96u);
  EXPECT_EQ(m.prompts.at("query"), "query: ");
  EXPECT_EQ(m.default_prompt_name, "query");
  EXPECT_EQ(m.similarity_fn_name, "dot");

  // A list of modes concatenates, in the library's order only.
  write_json(dir / "1_Pooling/config.json",
             {{"embedding_dimension", 384}, {"pooling_mode", {"cls", "mean"}}});
  EXPECT_EQ(load_model_files(dir).pooling.output_dimension(), 2 * 384);
  write_json(dir / "1_Pooling/config.json",
             {{"embedding_dimension", 384}, {"pooling_mode", {"mean", "cls"}}});
  EXPECT_CONTAINS(error_of([&] { load_model_files(dir); }), "in the order");
  write_json(dir / "1_Pooling/config.json", {{"embedding_dimension", 384}});

  write_json(dir / "config_sentence_transformers.json", {{"similarity_fn_name", "hamming"}});
  EXPECT_CONTAINS(error_of([&] { load_model_files(dir); }), "hamming");
  write_json(dir / "config_sentence_transformers.json",
             {{"prompts", {{"query", "q: "}}}, {"default_prompt_name", "passage"}});
  EXPECT_CONTAINS(error_of([&] { load_model_files(dir); }), "passage");
  fs::remove_all(dir);
}

TEST(ModelFiles, DenseModulesUnderBothNames) {
  const fs::path dir = copy_minilm("dense");
  json modules = read_json(dir / "modules.json");
  modules.push_back(module_entry(2, "2_Dense", "sentence_transformers.models.Dense"));
  modules.push_back(module_entry(3, "3_Dense", "sentence_transformers.base.modules.dense.Dense"));
  write_json(dir / "modules.json", modules);
  write_json(dir / "2_Dense/config.json",
             {{"in_features", 384},
              {"out_features", 256},
              {"bias", true},
              {"activation_function", "torch.nn.modules.activation.Tanh"}});
  write_json(dir / "3_Dense/config.json",
             {{"in_features", 256},
              {"out_features", 128},
              {"bias", false},
              {"activation_function", "torch.nn.modules.linear.Identity"},
              {"module_input_name", "sentence_embedding"},
              {"module_output_name", nullptr},
              {"use_residual", false}});
  const ModelFiles m = load_model_files(dir);
  ASSERT_EQ(m.dense.size(), 2u);
  EXPECT_EQ(m.dense[0].activation, Activation::Tanh);
  EXPECT_TRUE(m.dense[0].bias);
  EXPECT_EQ(m.dense[1].activation, Activation::Identity);
  EXPECT_FALSE(m.dense[1].bias);
  EXPECT_EQ(m.dense[1].dir, dir / "3_Dense");
  EXPECT_EQ(m.embedding_dimension(), 128);

  expect_errors(
      dir, "3_Dense/config.json",
      {
          {{{"in_features", 300}, {"out_features", 128}}, "in_features 300"},
          {{{"in_features", 256}, {"out_features", 128}, {"activation_function", "my.Swish"}},
           "my.Swish"},
          {{{"in_features", 256}, {"out_features", 128}, {"use_residual", true}}, "use_residual"},
          {{{"in_features", 256}}, "out_features"},
      });
  fs::remove_all(dir);
}

TEST(ModelFiles, BadJsonNamesTheFile) {
  for (const char* file : {"modules.json", "config.json", "sentence_bert_config.json",
                           "1_Pooling/config.json", "tokenizer_config.json"}) {
    const fs::path dir = copy_minilm("badjson");
    write_file_atomic(dir / file, "{\"max_seq_length\": 12,");
    const std::string msg = error_of([&] { load_model_files(dir); });
    EXPECT_CONTAINS(msg, (dir / file).string());
    EXPECT_CONTAINS(msg, "not valid JSON");
    fs::remove_all(dir);
  }
}

TEST(ModelFiles, PlainHuggingFaceDirectoryGetsMeanPooling) {
  const fs::path dir = temp_dir("plain");
  fs::copy_file(kMiniLM / "config.json", dir / "config.json");
  fs::copy_file(kMiniLM / "vocab.txt", dir / "vocab.txt");
  // No tokenizer_config.json: transformers' tokenizer has no limit, so the position table rules.
  ModelFiles m = load_model_files(dir);
  EXPECT_TRUE(m.pooling.mean_tokens);
  EXPECT_EQ(m.pooling.output_dimension(), 384);
  EXPECT_FALSE(m.normalize);
  EXPECT_EQ(m.max_seq_length, 512u);
  EXPECT_EQ(m.transformer_dir, dir);

  json tok = read_json(kMiniLM / "tokenizer_config.json");
  tok["model_max_length"] = 256;
  write_json(dir / "tokenizer_config.json", tok);
  EXPECT_EQ(load_model_files(dir).max_seq_length, 256u);
  tok["model_max_length"] = 1e30;  // what transformers writes for "no limit"
  write_json(dir / "tokenizer_config.json", tok);
  EXPECT_EQ(load_model_files(dir).max_seq_length, 512u);

  fs::remove(dir / "config.json");
  EXPECT_CONTAINS(error_of([&] { load_model_files(dir); }), "not a model directory");
  fs::remove_all(dir);
}

TEST(ModelFiles, SentenceBertConfigChecks) {
  const fs::path dir = copy_minilm("sbert");
  write_json(dir / "sentence_bert_config.json",
             {{"max_seq_length", 1024}, {"do_lower_case", false}});
  std::string msg = error_of([&] { load_model_files(dir); });
  EXPECT_CONTAINS(msg, "sentence_bert_config.json");
  EXPECT_CONTAINS(msg, "max_position_embeddings");
  write_json(dir / "sentence_bert_config.json", {{"max_seq_length", 64}, {"do_lower_case", true}});
  EXPECT_TRUE(load_model_files(dir).do_lower_case);
  write_json(dir / "sentence_bert_config.json", {{"max_seq_length", 64}});
  EXPECT_EQ(load_model_files(dir).max_seq_length, 64u);
  EXPECT_FALSE(load_model_files(dir).do_lower_case);
  fs::remove_all(dir);
}

TEST(BertConfig, RejectsUnsupportedConfigs) {
  const json base = read_json(kMiniLM / "config.json");
  const std::vector<std::pair<std::pair<std::string, json>, std::string>> cases = {
      {{"hidden_act", "gelu_new"}, "hidden_act"},
      {{"model_type", "roberta"}, "model_type"},
      {{"position_embedding_type", "relative_key"}, "position_embedding_type"},
      {{"num_attention_heads", 5}, "divisible"},
      {{"hidden_size", "384"}, "hidden_size"},
      {{"vocab_size", 0}, "vocab_size"},
      // Sizes beyond any BERT, refused before anything is allocated, and bad probabilities.
      {{"vocab_size", 1 << 27}, "vocab_size"},
      {{"hidden_size", 1 << 30}, "hidden_size"},
      {{"num_hidden_layers", 1000000}, "num_hidden_layers"},
      {{"hidden_size", 12288}, "parameters"},
      {{"hidden_dropout_prob", 2}, "hidden_dropout_prob"},
      {{"attention_probs_dropout_prob", -0.5}, "attention_probs_dropout_prob"},
      {{"layer_norm_eps", 1e300}, "layer_norm_eps"},
      {{"initializer_range", -1}, "initializer_range"},
  };
  for (const auto& [change, needle] : cases) {
    json j = base;
    j[change.first] = change.second;
    const std::string msg = error_of([&] { BertConfig::from_json(j, "cfg.json"); });
    EXPECT_CONTAINS(msg, "cfg.json");
    EXPECT_CONTAINS(msg, needle);
  }
  json j = base;
  j.erase("num_hidden_layers");
  EXPECT_CONTAINS(error_of([&] { BertConfig::from_json(j, "cfg.json"); }), "num_hidden_layers");
}

BertConfig tiny_config() {
  return BertConfig::from_json({{"model_type", "bert"},
                                {"vocab_size", 11},
                                {"hidden_size", 4},
                                {"num_hidden_layers", 2},
                                {"num_attention_heads", 2},
                                {"intermediate_size", 8},
                                {"max_position_embeddings", 6},
                                {"type_vocab_size", 2}},
                               "tiny");
}

struct Tensors {
  std::vector<std::vector<float>> data;
  std::vector<TensorRef> refs;
  void add(const std::string& name, const std::vector<std::int64_t>& shape) {
    std::int64_t n = 1;
    for (std::int64_t d : shape) n *= d;
    data.emplace_back(static_cast<std::size_t>(n), 0.25f);
    refs.push_back({name, shape, nullptr});
  }
  std::vector<TensorRef> finish() {
    for (std::size_t i = 0; i < refs.size(); ++i) refs[i].data = data[i].data();
    return refs;
  }
};

Tensors tiny_tensors(const BertConfig& c, const std::string& prefix, bool pooler) {
  Tensors t;
  for (const BertTensorSpec& s : bert_tensor_specs(c)) t.add(prefix + s.name, s.shape);
  if (pooler) {
    for (const BertTensorSpec& s : bert_pooler_specs(c)) t.add(prefix + s.name, s.shape);
  }
  return t;
}

TEST(BertTensors, LayoutKeepsQkvAdjacent) {
  const BertConfig c = tiny_config();
  const std::vector<BertTensorSpec> specs = bert_tensor_specs(c);
  ASSERT_EQ(specs.size(), 5u + 16u * 2u);
  EXPECT_EQ(specs[0].name, "embeddings.word_embeddings.weight");
  EXPECT_EQ(specs[0].shape, (std::vector<std::int64_t>{11, 4}));
  EXPECT_EQ(specs[5].name, "encoder.layer.0.attention.self.query.weight");
  EXPECT_EQ(specs[6].name, "encoder.layer.0.attention.self.key.weight");
  EXPECT_EQ(specs[7].name, "encoder.layer.0.attention.self.value.weight");
  EXPECT_EQ(specs[8].name, "encoder.layer.0.attention.self.query.bias");
  EXPECT_EQ(specs[10].name, "encoder.layer.0.attention.self.value.bias");
  EXPECT_EQ(specs[15].name, "encoder.layer.0.intermediate.dense.weight");
  EXPECT_EQ(specs[15].shape, (std::vector<std::int64_t>{8, 4}));
  EXPECT_EQ(specs[17].shape, (std::vector<std::int64_t>{4, 8}));
  EXPECT_EQ(specs[20].name, "encoder.layer.0.output.LayerNorm.bias");
  EXPECT_EQ(specs[21].name, "encoder.layer.1.attention.self.query.weight");
  EXPECT_EQ(bert_pooler_specs(c).size(), 2u);
}

TEST(CheckWeights, AcceptsCompleteCheckpointsWithOrWithoutPrefix) {
  const BertConfig c = tiny_config();
  const fs::path dir = temp_dir("weights_ok");
  for (const std::string prefix : {"", "bert."}) {
    Tensors t = tiny_tensors(c, prefix, prefix.empty());
    t.add(prefix + "embeddings.position_ids", {1, 6});  // extra tensors are ignored
    save_safetensors(dir / "w.safetensors", t.finish());
    EXPECT_NO_THROW(check_weights(Weights::open(dir / "w.safetensors"), c)) << prefix;
  }
  fs::remove_all(dir);
}

TEST(CheckWeights, NamesTheMissingOrMisshapedTensor) {
  const BertConfig c = tiny_config();
  const fs::path dir = temp_dir("weights_bad");
  const fs::path file = dir / "w.safetensors";

  Tensors t = tiny_tensors(c, "", false);
  t.refs.erase(t.refs.begin() + 30);
  t.data.erase(t.data.begin() + 30);
  save_safetensors(file, t.finish());
  std::string msg = error_of([&] { check_weights(Weights::open(file), c); });
  EXPECT_CONTAINS(msg, file.string());
  EXPECT_CONTAINS(msg, "missing tensor \"" + bert_tensor_specs(c)[30].name + "\"");

  t = tiny_tensors(c, "", false);
  t.refs[11].shape = {2, 8};
  save_safetensors(file, t.finish());
  msg = error_of([&] { check_weights(Weights::open(file), c); });
  EXPECT_CONTAINS(msg, "\"" + bert_tensor_specs(c)[11].name + "\"");
  EXPECT_CONTAINS(msg, "[2,8]");

  t = tiny_tensors(c, "", true);
  t.refs.back().shape = {2, 2};  // pooler.dense.bias, optional but checked when present
  save_safetensors(file, t.finish());
  EXPECT_CONTAINS(error_of([&] { check_weights(Weights::open(file), c); }), "pooler.dense.bias");
  fs::remove_all(dir);
}

TEST(CheckWeights, RejectsIntegerDtype) {
  const BertConfig c = tiny_config();
  // Hand-built file: one tensor stored as I32 with the right shape.
  json header;
  std::size_t offset = 0;
  for (const BertTensorSpec& s : bert_tensor_specs(c)) {
    std::size_t n = 4;
    for (std::int64_t d : s.shape) n *= static_cast<std::size_t>(d);
    header[s.name] = {{"dtype", s.name == "embeddings.LayerNorm.bias" ? "I32" : "F32"},
                      {"shape", s.shape},
                      {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  const std::string h = header.dump();
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((h.size() >> (8 * i)) & 0xff);
  bytes += h + std::string(offset, '\0');
  const fs::path dir = temp_dir("weights_ints");
  write_file_atomic(dir / "ints.safetensors", bytes);
  const std::string msg =
      error_of([&] { check_weights(Weights::open(dir / "ints.safetensors"), c); });
  EXPECT_CONTAINS(msg, "ints.safetensors");
  EXPECT_CONTAINS(msg, "embeddings.LayerNorm.bias");
  EXPECT_CONTAINS(msg, "I32");
  fs::remove_all(dir);
}

TEST(WriteModelDirectory, RoundTripsMiniLM) {
  const fs::path out = temp_dir("write") / "model";
  const ModelFiles src = load_model_files(kMiniLM);
  Tensors t = tiny_tensors(tiny_config(), "", false);
  write_model_directory(src, out, t.finish());

  const ModelFiles back = load_model_files(out);
  EXPECT_EQ(back.max_seq_length, src.max_seq_length);
  EXPECT_EQ(back.bert.raw, src.bert.raw);
  EXPECT_EQ(back.pooling.output_dimension(), src.pooling.output_dimension());
  EXPECT_TRUE(back.pooling.mean_tokens);
  EXPECT_FALSE(back.normalize);
  for (const char* f : {"vocab.txt", "tokenizer.json", "tokenizer_config.json",
                        "special_tokens_map.json", "config_sentence_transformers.json"}) {
    EXPECT_EQ(read_file(out / f), read_file(kMiniLM / f)) << f;
  }
  EXPECT_EQ(read_json(out / "modules.json"), read_json(kMiniLM / "modules.json"));
  EXPECT_EQ(read_json(out / "sentence_bert_config.json"),
            read_json(kMiniLM / "sentence_bert_config.json"));
  const json pooling = read_json(out / "1_Pooling/config.json");
  const json src_pooling = read_json(kMiniLM / "1_Pooling/config.json");
  for (const auto& [k, v] : src_pooling.items()) {
    EXPECT_EQ(pooling.at(k), v) << k;
  }
  EXPECT_EQ(pooling.at("pooling_mode_lasttoken"), false);
  const SafetensorsFile w = SafetensorsFile::open(out / "model.safetensors");
  EXPECT_EQ(w.tensors().size(), t.refs.size());
  EXPECT_NO_THROW(check_weights(Weights::open(out), tiny_config()));
  fs::remove_all(out.parent_path());
}

TEST(WriteModelDirectory, WritesSentenceTransformersFilesForPlainSource) {
  const fs::path root = temp_dir("write_plain");
  fs::copy_file(kMiniLM / "config.json", root / "config.json");
  fs::copy_file(kMiniLM / "vocab.txt", root / "vocab.txt");
  ModelFiles src = load_model_files(root);
  src.normalize = true;
  src.max_seq_length = 200;
  write_model_directory(src, root / "out", {});
  const fs::path out = root / "out";
  const ModelFiles back = load_model_files(out);
  EXPECT_TRUE(back.normalize);
  EXPECT_EQ(back.max_seq_length, 200u);
  EXPECT_TRUE(back.pooling.mean_tokens);
  EXPECT_EQ(back.pooling.word_embedding_dimension, 384);
  EXPECT_TRUE(fs::is_directory(out / "2_Normalize"));
  EXPECT_TRUE(read_json(out / "config_sentence_transformers.json").contains("__version__"));
  EXPECT_EQ(read_json(out / "1_Pooling/config.json").size(), 7u);
  EXPECT_FALSE(fs::exists(out / "tokenizer.json"));
  EXPECT_EQ(read_file(out / "vocab.txt"), read_file(kMiniLM / "vocab.txt"));
  fs::remove_all(root);
}

}  // namespace
}  // namespace simtune

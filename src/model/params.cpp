#include "simtune/model/params.h"

#include <algorithm>
#include <utility>

#include "simtune/core/check.h"
#include "simtune/core/error.h"
#include "simtune/core/rng.h"
#include "simtune/io/bert_tensors.h"

namespace simtune {
namespace {

std::vector<ParamTensor> to_param_tensors(const std::vector<BertTensorSpec>& specs) {
  std::vector<ParamTensor> out;
  out.reserve(specs.size());
  for (const auto& s : specs) out.push_back({s.name, s.shape, 0, 0});
  return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void read_tensors(const Weights& weights, const ParamLayout& layout, float* base) {
  for (const auto& t : layout.tensors) {
    const TensorInfo* info = weights.find(t.name);
    if (info == nullptr) info = weights.find("bert." + t.name);
    if (info == nullptr) throw Error(weights.origin() + ": tensor '" + t.name + "' is missing");
    weights.read_f32(*info, base + t.offset);
  }
}

// A Dense module's weights, from its folder in any format Weights::open reads: the one place
// that knows where they are stored.
void read_dense_weights(const DenseConfig& dense, const std::string& prefix,
                        const ParamLayout& layout, float* base) {
  const Weights file = Weights::open(dense.dir);
  for (const ParamTensor& t : layout.tensors) {
    if (!t.name.starts_with(prefix)) continue;
    const std::string name = t.name.substr(prefix.size());
    const TensorInfo* info = file.find(name);
    if (info == nullptr) throw Error(file.origin() + ": tensor '" + name + "' is missing");
    if (info->shape != t.shape) {
      throw Error(file.origin() + ": tensor '" + name + "' has shape " +
                  nlohmann::json(info->shape).dump() + ", " + (dense.dir / "config.json").string() +
                  " implies " + nlohmann::json(t.shape).dump());
    }
    file.read_f32(*info, base + t.offset);
  }
}

}  // namespace

ParamLayout ParamLayout::for_tensors(const std::vector<ParamTensor>& specs) {
  ParamLayout layout;
  layout.tensors = specs;
  for (auto& t : layout.tensors) {
    t.numel = 1;
    for (auto d : t.shape) t.numel *= static_cast<std::size_t>(d);
    t.offset = layout.total;
    layout.total += t.numel;
  }
  return layout;
}

const ParamTensor* ParamLayout::find(const std::string& name) const {
  auto it = std::find_if(tensors.begin(), tensors.end(),
                         [&](const ParamTensor& t) { return t.name == name; });
  return it == tensors.end() ? nullptr : &*it;
}

const ParamTensor& ParamLayout::at(const std::string& name) const {
  auto it = std::find_if(tensors.begin(), tensors.end(),
                         [&](const ParamTensor& t) { return t.name == name; });
  SIMTUNE_CHECK(it != tensors.end());
  return *it;
}

ParamLayout bert_layout(const BertConfig& config) {
  return ParamLayout::for_tensors(to_param_tensors(bert_tensor_specs(config)));
}

ParamLayout model_layout(const ModelFiles& files) {
  std::vector<ParamTensor> specs = to_param_tensors(bert_tensor_specs(files.bert));
  for (std::size_t k = 0; k < files.dense.size(); k++) {
    const DenseConfig& d = files.dense[k];
    specs.push_back(
        {dense_tensor_prefix(k) + "linear.weight", {d.out_features, d.in_features}, 0, 0});
    if (d.bias) specs.push_back({dense_tensor_prefix(k) + "linear.bias", {d.out_features}, 0, 0});
  }
  return ParamLayout::for_tensors(specs);
}

BertWeights bert_weights(const ParamLayout& layout, const BertConfig& config, float* base) {
  auto p = [&](const std::string& name) { return base + layout.at(name).offset; };
  BertWeights w{};
  w.wte = p("embeddings.word_embeddings.weight");
  w.wpe = p("embeddings.position_embeddings.weight");
  w.wtt = p("embeddings.token_type_embeddings.weight");
  w.emb_ln_w = p("embeddings.LayerNorm.weight");
  w.emb_ln_b = p("embeddings.LayerNorm.bias");
  const std::size_t C = static_cast<std::size_t>(config.hidden_size);
  for (int l = 0; l < config.num_hidden_layers; l++) {
    const std::string pre = "encoder.layer." + std::to_string(l) + ".";
    LayerWeights lw{};
    lw.qkv_w = p(pre + "attention.self.query.weight");
    lw.qkv_b = p(pre + "attention.self.query.bias");
    // The fused QKV views rely on key and value following query in the layout.
    SIMTUNE_CHECK(p(pre + "attention.self.key.weight") == lw.qkv_w + C * C);
    SIMTUNE_CHECK(p(pre + "attention.self.value.weight") == lw.qkv_w + 2 * C * C);
    SIMTUNE_CHECK(p(pre + "attention.self.key.bias") == lw.qkv_b + C);
    SIMTUNE_CHECK(p(pre + "attention.self.value.bias") == lw.qkv_b + 2 * C);
    lw.attn_out_w = p(pre + "attention.output.dense.weight");
    lw.attn_out_b = p(pre + "attention.output.dense.bias");
    lw.attention_ln_w = p(pre + "attention.output.LayerNorm.weight");
    lw.attention_ln_b = p(pre + "attention.output.LayerNorm.bias");
    lw.fc_w = p(pre + "intermediate.dense.weight");
    lw.fc_b = p(pre + "intermediate.dense.bias");
    lw.proj_w = p(pre + "output.dense.weight");
    lw.proj_b = p(pre + "output.dense.bias");
    lw.output_ln_w = p(pre + "output.LayerNorm.weight");
    lw.output_ln_b = p(pre + "output.LayerNorm.bias");
    w.layers.push_back(lw);
  }
  for (std::size_t k = 0; layout.find(dense_tensor_prefix(k) + "linear.weight") != nullptr; k++) {
    const ParamTensor* bias = layout.find(dense_tensor_prefix(k) + "linear.bias");
    w.dense.push_back({p(dense_tensor_prefix(k) + "linear.weight"),
                       bias == nullptr ? nullptr : base + bias->offset});
  }
  return w;
}

const ParamTensor* ParamLayout::first_non_finite(const float* values) const {
  for (const ParamTensor& t : tensors) {
    const float* v = values + t.offset;
    // v * 0 is 0 for every finite v and NaN for a NaN or an infinity; the sum keeps the NaN.
    float probe = 0.0f;
#pragma omp simd reduction(+ : probe)
    for (std::size_t i = 0; i < t.numel; i++) probe += v[i] * 0.0f;
    if (probe != 0.0f) return &t;
  }
  return nullptr;
}

BertParams BertParams::load(const std::filesystem::path& weights, const BertConfig& config) {
  const Weights file = Weights::open(weights);
  check_weights(file, config);
  BertParams params;
  params.layout = bert_layout(config);
  params.values.resize(params.layout.total);
  read_tensors(file, params.layout, params.values.data());
  // The pooler is optional: keep whichever of its tensors the file has, to save them back.
  std::vector<ParamTensor> present;
  for (const auto& t : to_param_tensors(bert_pooler_specs(config))) {
    if (file.find(t.name) != nullptr || file.find("bert." + t.name) != nullptr)
      present.push_back(t);
  }
  params.extra_layout = ParamLayout::for_tensors(present);
  params.extra_values.resize(params.extra_layout.total);
  read_tensors(file, params.extra_layout, params.extra_values.data());
  for (const auto& [layout, values] :
       {std::pair{&params.layout, params.values.data()},
        std::pair{&params.extra_layout, params.extra_values.data()}}) {
    if (const ParamTensor* t = layout->first_non_finite(values)) {
      throw Error(file.origin() + ": tensor \"" + t->name +
                  "\" holds NaN or infinite values: the model is broken (a diverged training "
                  "run?) and would give NaN embeddings");
    }
  }
  return params;
}

BertParams BertParams::load(const ModelFiles& files) {
  BertParams params = load(files.transformer_dir, files.bert);
  if (files.dense.empty()) return params;
  const std::vector<float> bert_values = std::move(params.values);
  params.layout = model_layout(files);
  params.values.assign(params.layout.total, 0.0f);
  std::copy(bert_values.begin(), bert_values.end(), params.values.begin());
  for (std::size_t k = 0; k < files.dense.size(); k++) {
    read_dense_weights(files.dense[k], dense_tensor_prefix(k), params.layout, params.values.data());
  }
  if (const ParamTensor* t = params.layout.first_non_finite(params.values.data())) {
    throw Error(files.dir.string() + ": tensor \"" + t->name +
                "\" holds NaN or infinite values: the model is broken (a diverged training "
                "run?) and would give NaN embeddings");
  }
  return params;
}

BertParams BertParams::init(const BertConfig& config, std::uint64_t seed) {
  BertParams params;
  params.layout = bert_layout(config);
  params.extra_layout = ParamLayout::for_tensors(to_param_tensors(bert_pooler_specs(config)));
  params.values.assign(params.layout.total, 0.0f);
  params.extra_values.assign(params.extra_layout.total, 0.0f);
  Rng rng(seed);
  auto fill = [&](const ParamLayout& layout, std::vector<float>& values) {
    for (const auto& t : layout.tensors) {
      float* data = values.data() + t.offset;
      if (t.name.find("LayerNorm") != std::string::npos) {
        if (ends_with(t.name, ".weight")) std::fill(data, data + t.numel, 1.0f);
      } else if (ends_with(t.name, ".weight")) {
        for (std::size_t i = 0; i < t.numel; i++) {
          data[i] = static_cast<float>(rng.normal() * config.initializer_range);
        }
      }
    }
  };
  fill(params.layout, params.values);
  fill(params.extra_layout, params.extra_values);
  // nn.Embedding(padding_idx=pad_token_id) keeps that row at zero.
  const auto& wte = params.layout.at("embeddings.word_embeddings.weight");
  const std::size_t C = static_cast<std::size_t>(config.hidden_size);
  if (config.pad_token_id >= 0 && config.pad_token_id < config.vocab_size) {
    float* row =
        params.values.data() + wte.offset + static_cast<std::size_t>(config.pad_token_id) * C;
    std::fill(row, row + C, 0.0f);
  }
  return params;
}

std::vector<TensorRef> BertParams::tensor_refs() const {
  std::vector<TensorRef> refs;
  for (const auto& t : layout.tensors) refs.push_back({t.name, t.shape, values.data() + t.offset});
  for (const auto& t : extra_layout.tensors) {
    refs.push_back({t.name, t.shape, extra_values.data() + t.offset});
  }
  return refs;
}

}  // namespace simtune

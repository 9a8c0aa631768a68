// Test tool for the per-layer parity test: every intermediate tensor of the forward pass (dropout
// off) over the lines of a file, packed into one batch, written to .safetensors under the name
// of the Hugging Face module whose output it is, as scripts/oracle/bert_reference.py's
// named_activations names them; "<LayerNorm>.input" is a LayerNorm's input, the pre-norm sum.
// Each tensor is (tokens, features), the sequences back to back without padding. Matrix
// products run the packed kernel, as `simtune encode` does.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <fstream>
#include <string>
#include <vector>

#include "simtune/core/error.h"
#include "simtune/model/bert.h"
#include "simtune/model/loader.h"

namespace {

using namespace simtune;

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open input file");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

// The named tensors of one forward, in forward order. Slots simtune does not keep as such
// (query, key and value are column blocks of qkv; a layer's GELU output is recomputed) are
// copied into `copies_`, whose elements never move.
class Dump {
 public:
  Dump(int N, int C, int I) : N_(N), C_(C), I_(I) {}

  void add(const std::string& name, const float* data, int features) {
    refs_.push_back({name, {N_, features}, data});
  }
  void add_layer(const LayerActivations& a, int l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    add_qkv_part(p + "attention.self.query", a.qkv, 0);
    add_qkv_part(p + "attention.self.key", a.qkv, C_);
    add_qkv_part(p + "attention.self.value", a.qkv, 2 * C_);
    add(p + "attention.self", a.ctx, C_);
    add(p + "attention.output.LayerNorm.input", a.attention_sum, C_);
    add(p + "attention.output.LayerNorm", a.attention_ln, C_);
    add(p + "intermediate.dense", a.fc_pre, I_);
    std::vector<float>& fc = copies_.emplace_back(static_cast<std::size_t>(N_) * I_);
    gelu_recompute(fc.data(), a.fc_pre, static_cast<std::int64_t>(fc.size()));
    add(p + "intermediate", fc.data(), I_);
    add(p + "output.LayerNorm.input", a.output_sum, C_);
    add(p + "output.LayerNorm", a.output_ln, C_);
  }
  const std::vector<TensorRef>& refs() const { return refs_; }

 private:
  // Columns [begin, begin + C) of the (N, 3C) qkv rows.
  void add_qkv_part(const std::string& name, const float* qkv, int begin) {
    std::vector<float>& part = copies_.emplace_back(static_cast<std::size_t>(N_) * C_);
    for (std::int64_t t = 0; t < N_; t++) {
      const float* row = qkv + t * 3 * C_ + begin;
      std::copy(row, row + C_, part.begin() + t * C_);
    }
    add(name, part.data(), C_);
  }

  std::int64_t N_;
  int C_, I_;
  std::vector<TensorRef> refs_;
  std::deque<std::vector<float>> copies_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Every named intermediate tensor of the forward pass (dropout off)"};
  std::string model, input, out;
  app.add_option("--model", model)->required();
  app.add_option("--input", input, "text file, one sentence per line")->required();
  app.add_option("--out", out, "activations as .safetensors")->required();
  CLI11_PARSE(app, argc, argv);
  try {
    LoadedModel loaded = load_model(model);
    const BertConfig& config = loaded.files.bert;
    const std::vector<std::string> lines = read_lines(input);
    if (lines.empty()) throw Error(input + ": no lines");
    PackedBatch batch;
    for (const std::string& line : lines) {
      batch.add(loaded.tokenizer.encode(line, loaded.files.max_seq_length));
    }
    const BertWeights w = bert_weights(loaded.params.layout, config, loaded.params.values.data());
    const PackedWeights packed = PackedWeights::every_layer(w, config);
    // Training-mode slots keep every layer's activations; without dropout, none is drawn.
    Activations acts(config, true);
    bert_forward(acts, batch, w, packed, config);

    const int C = config.hidden_size;
    Dump dump(batch.tokens(), C, config.intermediate_size);
    dump.add("embeddings.LayerNorm.input", acts.emb_sum, C);
    dump.add("embeddings.LayerNorm", acts.emb_ln, C);
    for (std::size_t l = 0; l < acts.layers.size(); l++) {
      dump.add_layer(acts.layers[l], static_cast<int>(l));
    }
    save_safetensors(out, dump.refs());
    std::printf("{\"tokens\": %d, \"tensors\": %zu}\n", batch.tokens(), dump.refs().size());
  } catch (const Error& e) {
    std::fprintf(stderr, "activation_dump: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

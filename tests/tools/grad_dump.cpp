// Test tool for the gradient parity test: the loss and every parameter's gradient (dropout off)
// for the first batch of a pairs file, in file order, written under Hugging Face names.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "simtune/core/error.h"
#include "simtune/data/pairs.h"
#include "simtune/model/loader.h"
#include "train/pair_loss.h"

int main(int argc, char** argv) {
  using namespace simtune;
  CLI::App app{"Loss and gradients of the first batch of pairs (dropout off)"};
  std::string model, train, out;
  std::size_t batch_size = 16;
  PairFileOptions pair_options;
  app.add_option("--model", model)->required();
  app.add_option("--train", train)->required();
  app.add_option("--out", out, "gradients as .safetensors")->required();
  app.add_option("--batch-size", batch_size);
  app.add_option("--score-scale", pair_options.score_scale);
  CLI11_PARSE(app, argc, argv);
  try {
    LoadedModel loaded = load_model(model);
    const ModelFiles& files = loaded.files;
    const Tokenizer& tokenizer = loaded.tokenizer;
    BertParams& params = loaded.params;
    const PairData data = load_pairs(train, pair_options);
    const std::size_t B = std::min(batch_size, data.pairs.size());
    std::vector<std::vector<std::int32_t>> ids_a(B), ids_b(B);
    std::vector<const std::vector<std::int32_t>*> a(B), b(B);
    std::vector<float> labels(B);
    for (std::size_t i = 0; i < B; i++) {
      ids_a[i] = tokenizer.encode(data.pairs[i].a, files.max_seq_length);
      ids_b[i] = tokenizer.encode(data.pairs[i].b, files.max_seq_length);
      a[i] = &ids_a[i];
      b[i] = &ids_b[i];
      labels[i] = static_cast<float>(data.pairs[i].score);
    }
    std::vector<float> grad_values(params.layout.total, 0.0f);
    const BertWeights w = bert_weights(params.layout, files.bert, params.values.data());
    const BertWeights g = bert_weights(params.layout, files.bert, grad_values.data());
    PairLoss pair_loss(files, Dropout{});
    const float loss = pair_loss.forward_backward(a, b, labels, w, g, nullptr);
    std::vector<TensorRef> refs;
    for (const auto& t : params.layout.tensors) {
      refs.push_back({t.name, t.shape, grad_values.data() + t.offset});
    }
    save_safetensors(out, refs);
    std::printf("{\"loss\": %.9g}\n", loss);
  } catch (const Error& e) {
    std::fprintf(stderr, "grad_dump: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

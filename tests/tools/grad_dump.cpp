// Test tool for the gradient parity test: the loss and every parameter's gradient (dropout off)
// for the first batch of a pairs file, in file order, written under Hugging Face names.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "simtune/core/error.h"
#include "simtune/data/pairs.h"
#include "simtune/model/loader.h"
#include "train/batches.h"
#include "train/cosine_similarity_loss.h"
#include "train/embedding_pass.h"

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
    TrainBatches batches(data.pairs, tokenizer, files.max_seq_length, batch_size, 0, false);
    const Batch& batch = batches.at(0);
    std::vector<float> grad_values(params.layout.total, 0.0f);
    const BertWeights w = bert_weights(params.layout, files.bert, params.values.data());
    const BertWeights g = bert_weights(params.layout, files.bert, grad_values.data());
    EmbeddingPass pass(files, Dropout{});
    CosineSimilarityLoss cosine_loss;
    const float* emb = pass.forward(batch.texts, w, nullptr);
    const float loss = cosine_loss.forward_backward(
        pass.zeroed_d_embeddings(), emb, batch.labels.data(), batch.size(), pass.dimension());
    pass.backward(g, w);
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

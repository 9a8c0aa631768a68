// Test tool for the gradient parity test: the loss and every parameter's gradient (dropout off)
// for the first batch of a training file read in the loss's shape, in file order, written under
// Hugging Face names.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "simtune/core/error.h"
#include "simtune/data/npy.h"
#include "simtune/data/pairs.h"
#include "simtune/model/loader.h"
#include "train/batches.h"
#include "train/embedding_pass.h"
#include "train/grad_cache.h"
#include "train/loss.h"
#include "train/matryoshka_loss.h"
#include "train/train_state.h"

int main(int argc, char** argv) {
  using namespace simtune;
  CLI::App app{"Loss and gradients of the first batch of pairs (dropout off)"};
  std::string model, train, out, loss_name = "CosineSimilarityLoss";
  std::size_t batch_size = 16;
  PairFileOptions pair_options;
  app.add_option("--model", model)->required();
  app.add_option("--train", train)->required();
  app.add_option("--out", out, "gradients as .safetensors")->required();
  app.add_option("--batch-size", batch_size);
  app.add_option("--score-scale", pair_options.score_scale);
  app.add_option("--loss", loss_name);
  std::vector<int> matryoshka_dims;
  std::vector<float> matryoshka_weights;
  app.add_option("--matryoshka-dims", matryoshka_dims)->delimiter(',');
  app.add_option("--matryoshka-weights", matryoshka_weights)->delimiter(',');
  std::size_t mini_batch_size = 32;
  std::string teacher_file;
  app.add_option("--teacher-embeddings", teacher_file, "for MSELoss");
  app.add_option("--mini-batch-size", mini_batch_size, "for a cached loss");
  CLI11_PARSE(app, argc, argv);
  try {
    LoadedModel loaded = load_model(model);
    const ModelFiles& files = loaded.files;
    const Tokenizer& tokenizer = loaded.tokenizer;
    BertParams& params = loaded.params;
    const PairData data = load_pairs(train, with_loss_shape(pair_options, loss_shape(loss_name)));
    const Matrix teacher = teacher_file.empty() ? Matrix{} : load_npy_matrix(teacher_file);
    TrainBatches batches(data.pairs, tokenizer, files.max_seq_length, batch_size, 0, false, false,
                         teacher_file.empty() ? nullptr : &teacher);
    const Batch& batch = batches.at(0);
    std::vector<float> grad_values(params.layout.total, 0.0f);
    const BertWeights w = bert_weights(params.layout, files.bert, params.values.data());
    const BertWeights g = bert_weights(params.layout, files.bert, grad_values.data());
    EmbeddingPass pass(files, Dropout{});
    std::unique_ptr<Loss> objective = make_loss(loss_name, batches.columns());
    if (!matryoshka_dims.empty()) {
      objective = std::make_unique<MatryoshkaLoss>(std::move(objective), matryoshka_dims,
                                                   matryoshka_weights, files.embedding_dimension());
    }
    GradCache cache(mini_batch_size);
    const float loss = loss_shape(loss_name).cached
                           ? cache.forward_backward(pass, *objective, batch, w, g, nullptr)
                           : forward_backward(pass, *objective, batch, w, g, nullptr);
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

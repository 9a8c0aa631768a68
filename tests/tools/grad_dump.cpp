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
  int num_labels = 0;
  std::string loss_init;
  app.add_option("--num-labels", num_labels, "for SoftmaxLoss (default: largest label + 1)");
  app.add_option("--loss-init", loss_init, "SoftmaxLoss's classifier, as simtune train takes it");
  CLI11_PARSE(app, argc, argv);
  try {
    LoadedModel loaded = load_model(model);
    const ModelFiles& files = loaded.files;
    const Tokenizer& tokenizer = loaded.tokenizer;
    const PairData data =
        load_pairs(train, with_loss_shape(pair_options, loss_shape(loss_name), num_labels));
    const Matrix teacher = teacher_file.empty() ? Matrix{} : load_npy_matrix(teacher_file);
    PairList rows(data.pairs);
    TrainBatches batches(rows, tokenizer, files.max_seq_length, batch_size, 0, false, false,
                         teacher_file.empty() ? nullptr : &teacher);
    const Batch& batch = batches.at(0);
    EmbeddingPass pass(files, Dropout{});
    std::unique_ptr<Loss> objective =
        make_loss(loss_name, batches.columns(),
                  LossDims{loss_classes(loss_name, num_labels, rows), files.embedding_dimension()});
    // The loss's own tensors (SoftmaxLoss's classifier) after the model's, as training has them.
    const std::vector<ParamTensor> extra = objective->parameters();
    TrainState state(with_loss_tensors(std::move(loaded.params), extra), files.bert, AdamWConfig{},
                     0, extra.size());
    init_loss_tensors(state, *objective, loss_init, 0);
    objective->bind_parameters(state.params.values.data() + state.loss_offset(),
                               state.grads.data() + state.loss_offset());
    if (!matryoshka_dims.empty()) {
      objective = std::make_unique<MatryoshkaLoss>(std::move(objective), matryoshka_dims,
                                                   matryoshka_weights, files.embedding_dimension());
    }
    GradCache cache(mini_batch_size);
    const BertWeights& w = state.weights;
    const BertWeights& g = state.grad_weights;
    const float loss = loss_shape(loss_name).cached
                           ? cache.forward_backward(pass, *objective, batch, w, g, nullptr)
                           : forward_backward(pass, *objective, batch, w, g, nullptr);
    std::vector<TensorRef> refs;
    for (const auto& t : state.params.layout.tensors) {
      refs.push_back({t.name, t.shape, state.grads.data() + t.offset});
    }
    save_safetensors(out, refs);
    std::printf("{\"loss\": %.9g}\n", loss);
  } catch (const Error& e) {
    std::fprintf(stderr, "grad_dump: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

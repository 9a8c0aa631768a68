// The training facade: fine-tune a model directory on examples (pairs, scored pairs, anchors with
// positives and negatives) with one of sentence-transformers' losses (losses.h), as the library's
// fit does, and save a model directory Python loads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "simtune/core/option_range.h"
#include "simtune/data/pairs.h"
#include "simtune/eval/evaluator.h"
#include "simtune/eval/evaluators.h"

namespace simtune {

struct StepReport {
  std::int64_t step = 0;  // 1-based optimizer step
  std::int64_t total_steps = 0;
  double epoch = 0;      // fractional: epoch index + share of it done
  float loss = 0;        // the batch's loss before the update
  float lr = 0;          // the learning rate this step used
  double grad_norm = 0;  // before clipping
  double pairs_per_s = 0;
};

// Pairs to evaluate on, as sentence-transformers' EmbeddingSimilarityEvaluator(name=...).
struct EvalSet {
  std::string name;
  std::vector<Pair> pairs;
};

struct EvalRecord {
  std::string name;
  std::int64_t step = 0;  // optimizer steps done when evaluated (0: before training)
  double epoch = 0;
  SimilarityMetrics metrics;
};

struct TrainOptions {
  std::string loss = "CosineSimilarityLoss";  // a name from loss_shapes() (losses.h)
  // Non-empty: MatryoshkaLoss around `loss` at these dimensions, with these weights (empty: 1s).
  std::vector<int> matryoshka_dims;
  std::vector<float> matryoshka_weights;
  // SoftmaxLoss's classes; 0: one more than the largest label of the training data.
  int num_labels = 0;
  // A safetensors file of the loss's own tensors (SoftmaxLoss's "classifier.weight" (K, 3 * dim)
  // and "classifier.bias" (K)) to start from; empty: torch.nn.Linear's init from the seed.
  std::filesystem::path loss_init;
  std::size_t mini_batch_size = 32;  // texts per forward pass of a cached loss (GradCache)
  // A .npy of one teacher embedding per training example, in file order (MSELoss).
  std::filesystem::path teacher_embeddings;
  int epochs = 4;
  std::size_t batch_size = 16;
  float lr = 2e-5f;
  float warmup_ratio = 0.1f;       // warmup = ceil(ratio * total steps) ...
  std::int64_t warmup_steps = -1;  // ... unless this is >= 0
  float weight_decay = 0.01f;
  float max_grad_norm = 1.0f;
  float adam_eps = 1e-8f;
  std::uint64_t seed = 42;
  std::int64_t max_steps = -1;  // > 0: the run (and its schedule) is this many steps
  // Under mpirun: each encoder layer's gradients start travelling as backward finishes the layer
  // (docs/distributed.md); false exchanges the whole buffer after backward. Same bits either way.
  bool overlap = true;
  bool shuffle = true;                // reshuffle every epoch with the seed
  bool no_duplicates = false;         // NoDuplicatesBatchSampler: no text twice in a batch
  float dropout = -1.0f;              // >= 0 overrides config.json's dropout probabilities
  std::filesystem::path log_file;     // JSONL, one line per step
  std::int64_t checkpoint_steps = 0;  // > 0: save a resumable checkpoint every N steps
  int checkpoint_limit = 3;           // keep the newest N checkpoints
  std::filesystem::path resume;       // a checkpoint directory to continue from
  std::int64_t eval_steps = 0;        // > 0: also evaluate every N steps (besides each epoch)
  // More evaluators (retrieval, binary classification, triplets), run when the dev set is:
  // before training, after every epoch and every eval_steps; each appends its library-layout CSV
  // to output/eval/ and a line to the log.
  std::vector<std::shared_ptr<const Evaluator>> evaluators;
  // The metric that picks the best model, by the library's name: "eval_<evaluator>_<metric>"
  // ("eval_" and the evaluator's name optional; the dev set's metrics are its
  // "spearman_cosine", "pearson_dot", ...). Empty: the dev set's cosine Spearman, or without a
  // dev set the first evaluator's primary metric (cosine or dot NDCG@10, max_ap, max_accuracy).
  std::string metric_for_best_model;
  std::function<void(const StepReport&)> on_step;  // progress display; may be empty
  std::function<void(const EvalRecord&)> on_eval;  // evaluation results; may be empty
  // An evaluator's results after some steps; may be empty.
  std::function<void(const Evaluator&, std::int64_t, const Metrics&)> on_metrics;
};

// Every option's range, and the combinations that need no model or data; throws OptionError.
// The one check for all front ends: the Trainer runs it first, the CLI and Python's fit before
// reading any file. (What needs the model, such as Matryoshka dimensions beyond its embedding,
// is checked when training starts.)
void validate(const TrainOptions& options);

struct TrainResult {
  std::int64_t steps = 0;  // run by this call (fewer than the schedule's after a resume)
  float last_loss = 0;
  double seconds = 0;
  std::vector<EvalRecord> evals;  // in order: dev before training, during, after; then test
};

class Trainer {
 public:
  Trainer(const std::filesystem::path& model_dir, TrainOptions options);
  ~Trainer();

  // Trains on `pairs` and saves the model to `output` (a complete sentence-transformers
  // directory, each file replaced atomically). With `dev`, the model is evaluated before
  // training, after every epoch and every eval_steps, metrics are appended to
  // output/eval/similarity_evaluation_<name>_results.csv, and `output` holds the model with the
  // best cosine Spearman so far (or options.metric_for_best_model; options.evaluators run at the
  // same points, also without `dev`); `test` is then evaluated once on that best model.
  // Checkpoints go to output/checkpoints/checkpoint-<step>. A NaN/inf loss or gradient stops
  // with Error naming the step; earlier checkpoints stay.
  TrainResult train(const std::vector<Pair>& pairs, const std::filesystem::path& output,
                    const EvalSet* dev = nullptr, const EvalSet* test = nullptr);
  // The same on examples read as batches need them (a PairFile: under mpirun each rank reads
  // only its rows).
  TrainResult train(PairRows& pairs, const std::filesystem::path& output,
                    const EvalSet* dev = nullptr, const EvalSet* test = nullptr);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace simtune

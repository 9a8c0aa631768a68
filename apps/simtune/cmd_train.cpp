// simtune train: fine-tune with one of sentence-transformers' losses on examples read in that
// loss's shape (scored pairs, or anchors with positives and hard negatives), evaluating as the
// library's evaluators do.
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "cli.h"
#include "simtune/core/error.h"
#include "simtune/data/retrieval.h"
#include "simtune/data/triplets.h"
#include "simtune/dist/group.h"
#include "simtune/train/losses.h"
#include "simtune/train/trainer.h"

namespace simtune::cli {

void add_train(CLI::App& app) {
  struct Args {
    std::string model, train, output, log_file, resume, eval, eval_name, test, test_name,
        batch_sampler = "batch_sampler", teacher, loss_init;
    std::string ir_queries, ir_corpus, ir_qrels, ir_name, binary, binary_name, triplet,
        triplet_name;
    TrainOptions options;
    PairFileOptions pairs;
    bool no_shuffle = false, no_overlap = false, quiet = false;
    int threads = 0;
  };
  auto args = std::make_shared<Args>();
  TrainOptions& t = args->options;
  PairFileOptions& p = args->pairs;
  CLI::App* cmd = app.add_subcommand(
      "train", "Fine-tune with a sentence-transformers loss (the library's fit)");
  cmd->add_option("--model", args->model, "Model directory to start from")->required();
  cmd->add_option("--train", args->train,
                  "Pairs: .tsv/.csv (tab-separated; STS benchmark layout recognised) or .jsonl")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--output", args->output, "Output model directory")->required();
  std::string loss_help = "Loss (sentence-transformers' name):";
  std::vector<std::string> loss_names;
  for (const LossShape& l : loss_shapes()) {
    loss_help += "\n  " + l.name + ": " + l.summary;
    loss_names.push_back(l.name);
  }
  cmd->add_option("--loss", t.loss, loss_help)
      ->capture_default_str()
      ->check(CLI::IsMember(loss_names));
  cmd->add_option("--teacher-embeddings", args->teacher,
                  "MSELoss: .npy of the teacher's embedding of each training example, in order")
      ->check(CLI::ExistingFile);
  cmd->add_option("--num-labels", t.num_labels,
                  "SoftmaxLoss: classes, labels 0..K-1 (default: the largest label + 1)");
  cmd->add_option("--loss-init", args->loss_init,
                  "SoftmaxLoss: start the classifier from this .safetensors (classifier.weight "
                  "(K, 3*dim), classifier.bias (K)) instead of torch.nn.Linear's seeded init")
      ->check(CLI::ExistingFile);
  cmd->add_option("--mini-batch-size", t.mini_batch_size,
                  "Texts per forward pass of CachedMultipleNegativesRankingLoss (memory grows "
                  "with this, not with --batch-size)")
      ->capture_default_str()
      ->check(unsigned_integer());
  cmd->add_option("--matryoshka-dims", t.matryoshka_dims,
                  "MatryoshkaLoss around --loss at these dimensions, e.g. 384,256,128,64")
      ->delimiter(',');
  cmd->add_option("--matryoshka-weights", t.matryoshka_weights,
                  "Weights of the Matryoshka dimensions (default: 1 each)")
      ->delimiter(',');
  cmd->add_option("--eval", args->eval,
                  "Dev pairs: evaluate before training, every epoch (and --eval-steps); the "
                  "output keeps the best model by cosine Spearman")
      ->check(CLI::ExistingFile);
  cmd->add_option("--eval-name", args->eval_name,
                  "Name of the dev evaluation (default: file stem)");
  cmd->add_option("--eval-steps", t.eval_steps,
                  "Also evaluate every N steps (0: only every epoch)");
  cmd->add_option("--test", args->test, "Test pairs, evaluated once on the final (best) model")
      ->check(CLI::ExistingFile);
  cmd->add_option("--test-name", args->test_name,
                  "Name of the test evaluation (default: file stem)");
  // More evaluators, run with the dev set's schedule; each writes the library's CSV to OUT/eval/.
  CLI::Option* ir = cmd->add_option("--ir-queries", args->ir_queries,
                                    "InformationRetrievalEvaluator: queries, TSV id<TAB>text")
                        ->check(CLI::ExistingFile);
  CLI::Option* ir_corpus =
      cmd->add_option("--ir-corpus", args->ir_corpus, "... its documents, TSV id<TAB>text")
          ->check(CLI::ExistingFile);
  CLI::Option* ir_qrels = cmd->add_option("--ir-qrels", args->ir_qrels,
                                          "... its relevant documents, TSV query_id<TAB>doc_id")
                              ->check(CLI::ExistingFile);
  ir->needs(ir_corpus, ir_qrels);
  ir_corpus->needs(ir);
  ir_qrels->needs(ir);
  cmd->add_option("--ir-name", args->ir_name,
                  "Name of the IR evaluation (default: queries' file stem)");
  cmd->add_option("--binary-eval", args->binary,
                  "BinaryClassificationEvaluator: pairs labelled 0/1 (read as --train's format)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--binary-name", args->binary_name, "Its name (default: file stem)");
  cmd->add_option("--triplet-eval", args->triplet,
                  "TripletEvaluator: TSV anchor<TAB>positive<TAB>negative")
      ->check(CLI::ExistingFile);
  cmd->add_option("--triplet-name", args->triplet_name, "Its name (default: file stem)");
  cmd->add_option("--metric-for-best-model", t.metric_for_best_model,
                  "Keep the best model by this metric, the library's name (e.g. "
                  "eval_sts-dev_spearman_cosine, eval_queries_cosine_ndcg@10; default: the dev "
                  "set's cosine Spearman, else the first evaluator's primary metric)");
  cmd->add_option("--epochs", t.epochs)->capture_default_str();
  cmd->add_option("--batch-size", t.batch_size,
                  "Pairs per step (more than the data: one batch of all of it)")
      ->capture_default_str()
      ->check(unsigned_integer());
  cmd->add_option("--lr", t.lr, "Peak learning rate")->capture_default_str();
  cmd->add_option("--warmup-ratio", t.warmup_ratio, "Warmup as a share of all steps")
      ->capture_default_str();
  cmd->add_option("--warmup-steps", t.warmup_steps, "Warmup steps (overrides --warmup-ratio)");
  cmd->add_option("--weight-decay", t.weight_decay)->capture_default_str();
  cmd->add_option("--max-grad-norm", t.max_grad_norm)->capture_default_str();
  cmd->add_option("--adam-eps", t.adam_eps)->capture_default_str();
  cmd->add_option("--seed", t.seed)->capture_default_str()->check(unsigned_integer());
  cmd->add_option("--max-steps", t.max_steps, "Stop after N steps (the schedule spans N steps)");
  cmd->add_flag("--no-shuffle", args->no_shuffle, "Batches in file order");
  cmd->add_flag("--no-overlap", args->no_overlap,
                "Under mpirun, exchange the gradients after backward instead of each layer's as "
                "backward finishes it (same result)");
  cmd->add_option("--batch-sampler", args->batch_sampler,
                  "batch_sampler, or no_duplicates (the library's NoDuplicatesBatchSampler: no "
                  "text twice in a batch, for in-batch negatives)")
      ->capture_default_str()
      ->check(CLI::IsMember({"batch_sampler", "no_duplicates"}));
  cmd->add_option("--dropout", t.dropout, "Dropout probability (default: config.json's; 0 = off)");
  cmd->add_option("--log-file", args->log_file, "JSONL log, one line per step");
  cmd->add_option("--checkpoint-steps", t.checkpoint_steps,
                  "Save a resumable checkpoint every N steps (0: none)");
  cmd->add_option("--checkpoint-limit", t.checkpoint_limit, "Checkpoints to keep")
      ->capture_default_str();
  cmd->add_option("--resume", args->resume, "Continue from this checkpoint directory")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--score-scale", p.score_scale, "Divide scores by this (5 for STS benchmark)")
      ->capture_default_str()
      ->check(bounded(0, kMaxFloat, Bound::open));
  cmd->add_option("--text-a-column", p.text_a_column, "Column of the first text (1-based or name)");
  cmd->add_option("--text-b-column", p.text_b_column, "Column of the second text");
  cmd->add_option("--score-column", p.score_column, "Column of the score");
  cmd->add_option("--negative-columns", p.negative_columns,
                  "Columns (or JSONL keys) of hard negatives, comma-separated (default: header "
                  "columns negative, negative_1, ...)")
      ->delimiter(',');
  cmd->add_flag("--skip-bad-rows", p.skip_bad_rows,
                "Skip and count malformed rows instead of stopping");
  add_threads_option(cmd, args->threads);
  cmd->add_flag("-q,--quiet", args->quiet, "No progress bar");
  cmd->callback([args] {
    set_num_threads(args->threads);
    TrainOptions options = args->options;
    options.shuffle = !args->no_shuffle;
    options.overlap = !args->no_overlap;
    options.no_duplicates = args->batch_sampler == "no_duplicates";
    // The library's own check, before any file is read; its option names as this command's.
    check_options(options);
    options.log_file = args->log_file;
    options.resume = args->resume;
    options.teacher_embeddings = args->teacher;
    options.loss_init = args->loss_init;
    // Under mpirun rank 0 alone reports; the trainer splits each batch over the ranks.
    const bool root = dist::Group::world().root();
    // The training file in the loss's shape; evaluation sets stay scored pairs.
    // Read row by row as batches need them: under mpirun a rank holds only its shares' rows.
    PairFile data(args->train,
                  with_loss_shape(args->pairs, loss_shape(options.loss), options.num_labels));
    if (data.skipped() > 0 && root) {
      std::fprintf(stderr, "skipped %zu bad rows (first: %s)\n", data.skipped(),
                   data.first_skipped().c_str());
    }
    Progress progress("train", "steps", args->quiet);
    options.on_step = [&](const StepReport& r) {
      char detail[96];
      std::snprintf(detail, sizeof detail, "epoch %.2f loss %.4f lr %.2e", r.epoch, r.loss, r.lr);
      progress.update(static_cast<std::size_t>(r.step), static_cast<std::size_t>(r.total_steps),
                      detail);
    };
    // Evaluation sets use the same columns and score scale as the training file.
    auto eval_set = [&](const std::string& path, const std::string& name) {
      PairFileOptions eval_pairs = args->pairs;
      eval_pairs.negative_columns.clear();
      return EvalSet{name.empty() ? std::filesystem::path(path).stem().string() : name,
                     load_pairs(path, eval_pairs).pairs};
    };
    const EvalSet dev = args->eval.empty() ? EvalSet{} : eval_set(args->eval, args->eval_name);
    const EvalSet test = args->test.empty() ? EvalSet{} : eval_set(args->test, args->test_name);
    const auto name_or_stem = [](const std::string& name, const std::string& path) {
      return name.empty() ? std::filesystem::path(path).stem().string() : name;
    };
    if (!args->ir_queries.empty()) {
      options.evaluators.push_back(make_retrieval_evaluator(
          name_or_stem(args->ir_name, args->ir_queries),
          load_retrieval_set(args->ir_queries, args->ir_corpus, args->ir_qrels)));
    }
    if (!args->binary.empty()) {
      PairFileOptions labels = args->pairs;
      labels.score_scale = 1;
      labels.min_score = 0;
      labels.max_score = 1;
      options.evaluators.push_back(make_binary_classification_evaluator(
          name_or_stem(args->binary_name, args->binary), load_pairs(args->binary, labels).pairs,
          args->binary));
    }
    if (!args->triplet.empty()) {
      options.evaluators.push_back(make_triplet_evaluator(
          name_or_stem(args->triplet_name, args->triplet), load_triplets(args->triplet)));
    }
    if (!options.metric_for_best_model.empty() && args->eval.empty() &&
        options.evaluators.empty()) {
      throw CLI::ValidationError("--metric-for-best-model",
                                 "needs --eval or another evaluator (--ir-queries, "
                                 "--binary-eval, --triplet-eval)");
    }
    options.on_metrics = [&](const Evaluator& evaluator, std::int64_t step, const Metrics& m) {
      progress.finish();
      const std::string primary = evaluator.primary_metric(m);
      std::fprintf(stderr, "eval %s after %lld steps: %s %.4f\n", evaluator.name().c_str(),
                   static_cast<long long>(step), primary.c_str(), metric_value(m, primary));
    };
    options.on_eval = [&](const EvalRecord& r) {
      progress.finish();
      warn_if_undefined(r.metrics, r.name);
      std::fprintf(stderr, "eval %s after %lld steps: cosine Spearman %.4f, Pearson %.4f\n",
                   r.name.c_str(), static_cast<long long>(r.step), r.metrics.cosine_spearman,
                   r.metrics.cosine_pearson);
    };
    Trainer trainer(args->model, options);
    const TrainResult result =
        trainer.train(data, args->output, args->eval.empty() ? nullptr : &dev,
                      args->test.empty() ? nullptr : &test);
    progress.finish();
    if (!root) return;
    if (!args->eval.empty()) {
      double best = -1;
      for (const EvalRecord& r : result.evals) {
        if (r.name == dev.name) best = std::max(best, r.metrics.cosine_spearman);
      }
      std::printf("%s cosine Spearman: before training %.4f, best %.4f\n", dev.name.c_str(),
                  result.evals.front().metrics.cosine_spearman, best);
    }
    if (!args->test.empty()) {
      std::printf("%s cosine Spearman of the saved model: %.4f\n", test.name.c_str(),
                  result.evals.back().metrics.cosine_spearman);
    }
    std::fprintf(stderr,
                 "trained %lld steps on %zu pairs in %.1f s; last batch loss %.6f; saved %s\n",
                 static_cast<long long>(result.steps), data.size(), result.seconds,
                 result.last_loss, args->output.c_str());
  });
}

}  // namespace simtune::cli

// simtune eval: EmbeddingSimilarityEvaluator's metrics on a pairs file.
#include <cstdio>
#include <limits>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "simtune/core/error.h"
#include "simtune/eval/evaluator.h"

namespace simtune::cli {

void add_eval(CLI::App& app) {
  struct Args {
    std::string model, data, name, csv_dir;
    PairFileOptions pairs;
    EncodeOptions options;
    int threads = 0;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "Pearson/Spearman of cosine, euclidean, manhattan and dot similarity vs gold scores");
  cmd->add_option("--model", args->model, "Model directory")->required();
  cmd->add_option("--data", args->data, "Pairs file (.tsv/.csv/.jsonl, as for train)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--name", args->name, "Evaluation name (for the CSV file)");
  cmd->add_option("--csv-dir", args->csv_dir,
                  "Append a row to DIR/similarity_evaluation_<name>_results.csv");
  cmd->add_option("--score-scale", args->pairs.score_scale, "Divide scores by this (5 for STS)")
      ->capture_default_str()
      ->check(bounded(0, kMaxFloat, Bound::open));
  cmd->add_option("--text-a-column", args->pairs.text_a_column);
  cmd->add_option("--text-b-column", args->pairs.text_b_column);
  cmd->add_option("--score-column", args->pairs.score_column);
  cmd->add_option("--batch-size", args->options.batch_size)
      ->capture_default_str()
      ->check(bounded(1, kMaxBatch));
  add_threads_option(cmd, args->threads);
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args] {
    set_num_threads(args->threads);
    // Correlations do not depend on the scale, so any score range is accepted here.
    args->pairs.min_score = -std::numeric_limits<float>::infinity();
    args->pairs.max_score = std::numeric_limits<float>::infinity();
    const PairData data = load_pairs(args->data, args->pairs);
    const Encoder encoder = Encoder::load(args->model);
    const SimilarityMetrics m = evaluate_pairs(
        [&](const std::vector<std::string>& texts) { return encoder.encode(texts, args->options); },
        data.pairs);
    warn_if_undefined(m, args->name.empty() ? args->data : args->name);
    if (!args->csv_dir.empty()) {
      if (args->name.empty()) throw Error("--csv-dir needs --name");
      append_metrics_csv(args->csv_dir, args->name, -1, -1, m);
    }
    if (args->json) {
      const nlohmann::json j = {{"pairs", data.pairs.size()},
                                {"cosine_pearson", m.cosine_pearson},
                                {"cosine_spearman", m.cosine_spearman},
                                {"euclidean_pearson", m.euclidean_pearson},
                                {"euclidean_spearman", m.euclidean_spearman},
                                {"manhattan_pearson", m.manhattan_pearson},
                                {"manhattan_spearman", m.manhattan_spearman},
                                {"dot_pearson", m.dot_pearson},
                                {"dot_spearman", m.dot_spearman}};
      std::printf("%s\n", j.dump().c_str());
      return;
    }
    std::printf("%zu pairs%s%s\n", data.pairs.size(), args->name.empty() ? "" : ", ",
                args->name.c_str());
    std::printf("            pearson   spearman\n");
    std::printf("cosine     %8.4f   %8.4f\n", m.cosine_pearson, m.cosine_spearman);
    std::printf("euclidean  %8.4f   %8.4f\n", m.euclidean_pearson, m.euclidean_spearman);
    std::printf("manhattan  %8.4f   %8.4f\n", m.manhattan_pearson, m.manhattan_spearman);
    std::printf("dot        %8.4f   %8.4f\n", m.dot_pearson, m.dot_spearman);
  });
}

}  // namespace simtune::cli

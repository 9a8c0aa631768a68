// simtune eval: sentence-transformers' evaluators on files: EmbeddingSimilarityEvaluator (pairs
// with gold scores), InformationRetrievalEvaluator (queries, corpus, qrels),
// BinaryClassificationEvaluator (pairs labelled 0/1) and TripletEvaluator (triplets).
#include <cstdio>
#include <limits>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "simtune/core/error.h"
#include "simtune/eval/evaluator.h"
#include "simtune/eval/evaluators.h"

namespace simtune::cli {
namespace {

// A required option of one evaluator: a usage error (exit 2) naming it when missing.
const std::string& required_for(const std::string& value, const char* option,
                                const std::string& evaluator) {
  if (value.empty()) {
    throw CLI::RequiredError(std::string(option) + " (for --evaluator " + evaluator + ")");
  }
  return value;
}

// Metrics in the library's names and order: one JSON object, or one line per metric.
void print_metrics(const nlohmann::ordered_json& counts, const Metrics& metrics, bool json) {
  if (json) {
    nlohmann::ordered_json j = counts;
    for (const Metric& m : metrics) j[m.name] = m.value;
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  for (const auto& [key, value] : counts.items()) {
    std::printf("%s: %s\n", key.c_str(), value.dump().c_str());
  }
  for (const Metric& m : metrics) std::printf("%-22s %.4f\n", m.name.c_str(), m.value);
}

struct EvalArgs {
  std::string model, evaluator = "similarity", data, queries, corpus, qrels, name, csv_dir;
  PairFileOptions pairs;
  EncodeOptions options;
  int threads = 0;
  bool json = false;
};

// EmbeddingSimilarityEvaluator: correlations of the four similarities with the gold scores.
void similarity(EvalArgs& args) {
  required_for(args.data, "--data", "similarity");
  // Correlations do not depend on the scale, so any score range is accepted here.
  args.pairs.min_score = -std::numeric_limits<float>::infinity();
  args.pairs.max_score = std::numeric_limits<float>::infinity();
  const PairData data = load_pairs(args.data, args.pairs);
  const Encoder encoder = Encoder::load(args.model);
  const SimilarityMetrics m = evaluate_pairs(
      [&](const std::vector<std::string>& texts) { return encoder.encode(texts, args.options); },
      data.pairs);
  warn_if_undefined(m, args.name.empty() ? args.data : args.name);
  if (!args.csv_dir.empty()) {
    if (args.name.empty()) throw Error("--csv-dir needs --name");
    append_metrics_csv(args.csv_dir, args.name, -1, -1, m);
  }
  if (args.json) {
    print_metrics({{"pairs", data.pairs.size()}}, named_metrics(m), true);
    return;
  }
  std::printf("%zu pairs%s%s\n", data.pairs.size(), args.name.empty() ? "" : ", ",
              args.name.c_str());
  std::printf("            pearson   spearman\n");
  std::printf("cosine     %8.4f   %8.4f\n", m.cosine_pearson, m.cosine_spearman);
  std::printf("euclidean  %8.4f   %8.4f\n", m.euclidean_pearson, m.euclidean_spearman);
  std::printf("manhattan  %8.4f   %8.4f\n", m.manhattan_pearson, m.manhattan_spearman);
  std::printf("dot        %8.4f   %8.4f\n", m.dot_pearson, m.dot_spearman);
}

}  // namespace

void add_eval(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd =
      app.add_subcommand("eval",
                         "Evaluate a model as sentence-transformers' evaluators do, printing "
                         "their metric names");
  cmd->add_option("--model", args->model, "Model directory")->required();
  cmd->add_option("--evaluator", args->evaluator,
                  "similarity (EmbeddingSimilarityEvaluator, --data with scores), ir "
                  "(InformationRetrievalEvaluator, --queries --corpus --qrels), binary "
                  "(BinaryClassificationEvaluator, --data with 0/1 labels) or triplet "
                  "(TripletEvaluator, --data of anchor<TAB>positive<TAB>negative)")
      ->capture_default_str()
      ->check(CLI::IsMember({"similarity", "ir", "binary", "triplet"}));
  cmd->add_option("--data", args->data,
                  "similarity, binary: pairs file (.tsv/.csv/.jsonl, as for train); triplet: "
                  "TSV of triplets")
      ->check(CLI::ExistingFile);
  cmd->add_option("--queries", args->queries, "ir: queries, TSV id<TAB>text")
      ->check(CLI::ExistingFile);
  cmd->add_option("--corpus", args->corpus, "ir: documents, TSV id<TAB>text")
      ->check(CLI::ExistingFile);
  cmd->add_option("--qrels", args->qrels, "ir: relevant documents, TSV query_id<TAB>doc_id")
      ->check(CLI::ExistingFile);
  cmd->add_option("--name", args->name, "Evaluation name (for the CSV file)");
  cmd->add_option("--csv-dir", args->csv_dir,
                  "Append a row to the evaluator's results CSV in DIR (the library's file name "
                  "and columns)");
  cmd->add_option("--score-scale", args->pairs.score_scale, "Divide scores by this (5 for STS)")
      ->capture_default_str()
      ->check(bounded(0, kMaxFloat, Bound::open));
  cmd->add_option("--text-a-column", args->pairs.text_a_column);
  cmd->add_option("--text-b-column", args->pairs.text_b_column);
  cmd->add_option("--score-column", args->pairs.score_column, "The score (binary: label) column");
  cmd->add_option("--batch-size", args->options.batch_size)
      ->capture_default_str()
      ->check(bounded(1, kMaxBatch));
  add_threads_option(cmd, args->threads);
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args] {
    set_num_threads(args->threads);
    const std::string& evaluator = args->evaluator;
    if (evaluator == "similarity") return similarity(*args);
    // The other evaluators give named metrics. Their data is read first, so its errors come
    // before the model loads.
    std::unique_ptr<Evaluator> ev;
    if (evaluator == "ir") {
      // One at a time: the first missing option is the one named.
      const std::string& queries = required_for(args->queries, "--queries", evaluator);
      const std::string& corpus = required_for(args->corpus, "--corpus", evaluator);
      const std::string& qrels = required_for(args->qrels, "--qrels", evaluator);
      ev = make_retrieval_evaluator(args->name, load_retrieval_set(queries, corpus, qrels));
    } else if (evaluator == "binary") {
      // Labels 0 and 1 through the pair reader's range check, which names file:line.
      args->pairs.min_score = 0;
      args->pairs.max_score = 1;
      const std::string& data = required_for(args->data, "--data", evaluator);
      ev = make_binary_classification_evaluator(args->name, load_pairs(data, args->pairs).pairs,
                                                data);
    } else {
      ev = make_triplet_evaluator(args->name,
                                  load_triplets(required_for(args->data, "--data", evaluator)));
    }
    const Encoder encoder = Encoder::load(args->model);
    const Metrics m = ev->evaluate([&](const std::vector<std::string>& texts) {
      return encoder.encode(texts, args->options);
    });
    if (!args->csv_dir.empty()) ev->append_csv(args->csv_dir, -1, -1, m);
    nlohmann::ordered_json counts = nlohmann::ordered_json::object();
    for (const auto& [what, n] : ev->counts()) counts[what] = n;
    print_metrics(counts, m, args->json);
  });
}

}  // namespace simtune::cli

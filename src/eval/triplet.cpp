#include "simtune/eval/triplet.h"

#include <algorithm>

#include "simtune/core/check.h"
#include "simtune/core/error.h"
#include "simtune/eval/search.h"

namespace simtune {
namespace {

constexpr SimilarityFunction kFunctions[] = {SimilarityFunction::Cosine, SimilarityFunction::Dot,
                                             SimilarityFunction::Euclidean,
                                             SimilarityFunction::Manhattan};

}  // namespace

Metrics triplet_metrics(const Matrix& anchors, const Matrix& positives, const Matrix& negatives) {
  SIMTUNE_CHECK(anchors.rows == positives.rows && anchors.rows == negatives.rows &&
                anchors.cols == positives.cols && anchors.cols == negatives.cols);
  if (anchors.rows == 0) throw Error("triplet evaluation needs at least one triplet");
  Metrics out;
  double best = 0;
  for (SimilarityFunction fn : kFunctions) {
    std::size_t correct = 0;
    for (std::size_t i = 0; i < anchors.rows; i++) {
      const double positive = similarity_score(fn, anchors.row(i), positives.row(i), anchors.cols);
      const double negative = similarity_score(fn, anchors.row(i), negatives.row(i), anchors.cols);
      if (positive > negative) correct++;
    }
    const double accuracy = static_cast<double>(correct) / static_cast<double>(anchors.rows);
    out.push_back({similarity_function_name(fn) + "_accuracy", accuracy});
    best = std::max(best, accuracy);
  }
  out.push_back({"max_accuracy", best});
  return out;
}

Metrics evaluate_triplets(const EncodeFn& encode, const std::vector<Triplet>& triplets) {
  if (triplets.empty()) throw Error("triplet evaluation needs at least one triplet");
  std::vector<std::string> anchors, positives, negatives;
  for (const Triplet& t : triplets) {
    anchors.push_back(t.anchor);
    positives.push_back(t.positive);
    negatives.push_back(t.negative);
  }
  return triplet_metrics(encode(anchors), encode(positives), encode(negatives));
}

void append_triplet_csv(const std::string& dir, const std::string& name, int epoch, long steps,
                        const Metrics& metrics) {
  std::vector<std::string> columns;
  std::vector<double> values;
  for (SimilarityFunction fn : kFunctions) {
    columns.push_back("accuracy_" + similarity_function_name(fn));
    values.push_back(metric_value(metrics, similarity_function_name(fn) + "_accuracy"));
  }
  append_results_csv(dir, "triplet_evaluation" + (name.empty() ? "" : "_" + name) + "_results.csv",
                     columns, epoch, steps, values);
}

}  // namespace simtune

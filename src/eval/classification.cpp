#include "simtune/eval/classification.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "simtune/core/check.h"
#include "simtune/core/error.h"
#include "simtune/eval/search.h"

namespace simtune {
namespace {

constexpr SimilarityFunction kFunctions[] = {SimilarityFunction::Cosine, SimilarityFunction::Dot,
                                             SimilarityFunction::Euclidean,
                                             SimilarityFunction::Manhattan};

// The library thresholds cosine and dot similarities, but euclidean and manhattan distances.
bool greater_is_better(SimilarityFunction fn) {
  return fn == SimilarityFunction::Cosine || fn == SimilarityFunction::Dot;
}

// Each function's metrics in the library's dict order, and its CSV column order.
constexpr const char* kMetricOrder[] = {
    "accuracy", "accuracy_threshold", "f1", "f1_threshold", "precision", "recall", "ap", "mcc"};
constexpr const char* kCsvOrder[] = {"accuracy", "accuracy_threshold", "f1", "precision",
                                     "recall",   "f1_threshold",       "ap", "mcc"};

// Row indices ordered as Python's sorted(rows, key=score, reverse=greater_is_better): stable,
// so equal scores keep their input order in both directions.
std::vector<std::size_t> sorted_order(const std::vector<double>& scores, bool greater_is_better) {
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
    return greater_is_better ? scores[x] > scores[y] : scores[x] < scores[y];
  });
  return order;
}

struct FunctionMetrics {
  double accuracy = 0, accuracy_threshold = -1, f1 = 0, f1_threshold = 0, precision = 0, recall = 0,
         ap = 0, mcc = 0;
};

// find_best_acc_and_threshold and find_best_f1_and_threshold of the library.
void best_thresholds(const std::vector<double>& scores, const std::vector<int>& labels,
                     bool greater_is_better, FunctionMetrics& m) {
  const std::vector<std::size_t> order = sorted_order(scores, greater_is_better);
  const double n = static_cast<double>(labels.size());
  const double positives = static_cast<double>(std::count(labels.begin(), labels.end(), 1));
  double positive_so_far = 0, remaining_negatives = n - positives, extracted = 0, correct = 0;
  for (std::size_t i = 0; i + 1 < order.size(); i++) {
    const double midpoint = (scores[order[i]] + scores[order[i + 1]]) / 2;
    const bool positive = labels[order[i]] == 1;
    positive ? positive_so_far++ : remaining_negatives--;
    const double accuracy = (positive_so_far + remaining_negatives) / n;
    if (accuracy > m.accuracy) {
      m.accuracy = accuracy;
      m.accuracy_threshold = midpoint;
    }
    extracted++;
    if (positive) correct++;
    if (correct > 0) {
      const double precision = correct / extracted, recall = correct / positives;
      const double f1 = 2 * precision * recall / (precision + recall);
      if (f1 > m.f1) {
        m.f1 = f1;
        m.precision = precision;
        m.recall = recall;
        m.f1_threshold = midpoint;
      }
    }
  }
}

// sklearn's average_precision_score of `labels` ranked by `ranking` (higher first): the sum
// over distinct ranking values, highest first, of (recall gained) * (precision there).
double average_precision(const std::vector<double>& ranking, const std::vector<int>& labels) {
  const std::vector<std::size_t> order = sorted_order(ranking, true);
  const double positives = static_cast<double>(std::count(labels.begin(), labels.end(), 1));
  double tp = 0, fp = 0, ap = 0, last_recall = 0;
  for (std::size_t i = 0; i < order.size(); i++) {
    labels[order[i]] == 1 ? tp++ : fp++;
    if (i + 1 < order.size() && ranking[order[i + 1]] == ranking[order[i]]) continue;
    const double recall = tp / positives;
    ap += (recall - last_recall) * (tp / (tp + fp));
    last_recall = recall;
  }
  return ap;
}

// sklearn's matthews_corrcoef (its covariance form; 0 when a class is never predicted).
double matthews_corrcoef(const std::vector<int>& labels, const std::vector<int>& predicted) {
  double tp = 0, tn = 0, fp = 0, fn = 0;
  for (std::size_t i = 0; i < labels.size(); i++) {
    (labels[i] == 1 ? (predicted[i] == 1 ? tp : fn) : (predicted[i] == 1 ? fp : tn))++;
  }
  const double n = tp + tn + fp + fn, correct = tp + tn;
  const double true_pos = tp + fn, true_neg = tn + fp, pred_pos = tp + fp, pred_neg = tn + fn;
  const double cov_ytyp = correct * n - (true_neg * pred_neg + true_pos * pred_pos);
  const double cov_ypyp = n * n - (pred_neg * pred_neg + pred_pos * pred_pos);
  const double cov_ytyt = n * n - (true_neg * true_neg + true_pos * true_pos);
  if (cov_ypyp * cov_ytyt == 0) return 0;
  return cov_ytyp / std::sqrt(cov_ytyt * cov_ypyp);
}

double metric_of(const FunctionMetrics& m, const std::string& name) {
  if (name == "accuracy") return m.accuracy;
  if (name == "accuracy_threshold") return m.accuracy_threshold;
  if (name == "f1") return m.f1;
  if (name == "f1_threshold") return m.f1_threshold;
  if (name == "precision") return m.precision;
  if (name == "recall") return m.recall;
  if (name == "ap") return m.ap;
  SIMTUNE_CHECK(name == "mcc");
  return m.mcc;
}

}  // namespace

Metrics binary_classification_metrics(const Matrix& a, const Matrix& b,
                                      const std::vector<int>& labels) {
  SIMTUNE_CHECK(a.rows == b.rows && a.cols == b.cols && a.rows == labels.size());
  const auto positives = std::count(labels.begin(), labels.end(), 1);
  if (positives == 0 || positives == static_cast<std::ptrdiff_t>(labels.size())) {
    throw Error("binary classification evaluation needs pairs of both labels, 0 and 1");
  }
  std::vector<FunctionMetrics> per_function;
  std::vector<double> scores(a.rows), ranking(a.rows);
  std::vector<int> predicted(a.rows);
  for (SimilarityFunction fn : kFunctions) {
    const bool greater = greater_is_better(fn);
    const double sign = greater ? 1 : -1;
    for (std::size_t i = 0; i < a.rows; i++) {
      // similarity_score gives distances negated; the library thresholds the distances.
      scores[i] = sign * similarity_score(fn, a.row(i), b.row(i), a.cols);
      ranking[i] = sign * scores[i];
    }
    FunctionMetrics m;
    best_thresholds(scores, labels, greater, m);
    m.ap = average_precision(ranking, labels);
    for (std::size_t i = 0; i < a.rows; i++) {
      predicted[i] = greater ? scores[i] >= m.f1_threshold : scores[i] <= m.f1_threshold;
    }
    m.mcc = matthews_corrcoef(labels, predicted);
    per_function.push_back(m);
  }
  Metrics out;
  for (std::size_t f = 0; f < std::size(kFunctions); f++) {
    for (const char* metric : kMetricOrder) {
      out.push_back({similarity_function_name(kFunctions[f]) + "_" + metric,
                     metric_of(per_function[f], metric)});
    }
  }
  for (const char* metric : kMetricOrder) {
    double best = metric_of(per_function[0], metric);
    for (const FunctionMetrics& m : per_function) best = std::max(best, metric_of(m, metric));
    out.push_back({std::string("max_") + metric, best});
  }
  return out;
}

Metrics evaluate_binary_classification(const EncodeFn& encode, const std::vector<Pair>& pairs,
                                       const std::string& source) {
  std::vector<std::string> first, second;
  std::vector<int> labels;
  for (std::size_t i = 0; i < pairs.size(); i++) {
    if (pairs[i].score != 0 && pairs[i].score != 1) {
      char label[32];
      std::snprintf(label, sizeof label, "%g", pairs[i].score);
      throw Error(source + ": pair " + std::to_string(i + 1) + " has label " + label +
                  "; binary classification labels are 0 or 1");
    }
    first.push_back(pairs[i].a);
    second.push_back(pairs[i].b);
    labels.push_back(static_cast<int>(pairs[i].score));
  }
  if (pairs.size() < 2) throw Error(source + ": binary classification needs at least 2 pairs");
  return binary_classification_metrics(encode(first), encode(second), labels);
}

void append_binary_classification_csv(const std::string& dir, const std::string& name, int epoch,
                                      long steps, const Metrics& metrics) {
  std::vector<std::string> columns;
  std::vector<double> values;
  for (SimilarityFunction fn : kFunctions) {
    for (const char* metric : kCsvOrder) {
      columns.push_back(similarity_function_name(fn) + "_" + metric);
      values.push_back(metric_value(metrics, columns.back()));
    }
  }
  append_results_csv(
      dir, "binary_classification_evaluation" + (name.empty() ? "" : "_" + name) + "_results.csv",
      columns, epoch, steps, values);
}

}  // namespace simtune

#include "simtune/eval/information_retrieval.h"

#include <algorithm>
#include <cmath>

#include "simtune/core/check.h"
#include "simtune/core/error.h"
#include "simtune/eval/search.h"

namespace simtune {
namespace {

// InformationRetrievalEvaluator's defaults.
constexpr std::size_t kAccuracyAtK[] = {1, 3, 5, 10};
constexpr std::size_t kPrecisionRecallAtK[] = {1, 3, 5, 10};
constexpr std::size_t kNdcgAtK = 10, kMrrAtK = 10, kMapAtK = 100;
constexpr std::size_t kMaxK = 100;

constexpr SimilarityFunction kFunctions[] = {SimilarityFunction::Cosine, SimilarityFunction::Dot};

double dcg_at_k(const std::vector<int>& relevances, std::size_t k) {
  double dcg = 0;
  for (std::size_t i = 0; i < std::min(relevances.size(), k); i++) {
    dcg += relevances[i] / std::log2(static_cast<double>(i) + 2);
  }
  return dcg;
}

// compute_metrics of the library for one score function: sums over queries, then means.
void append_function_metrics(const std::string& fn, const std::vector<std::vector<SearchHit>>& hits,
                             const std::vector<std::vector<std::size_t>>& relevant, Metrics& out) {
  const std::size_t nq = hits.size();
  std::vector<double> accuracy(std::size(kAccuracyAtK)), precision(std::size(kPrecisionRecallAtK)),
      recall(std::size(kPrecisionRecallAtK));
  double ndcg = 0, mrr = 0, map = 0;
  std::vector<int> is_relevant;
  for (std::size_t q = 0; q < nq; q++) {
    const std::vector<std::size_t>& docs = relevant[q];
    is_relevant.clear();
    for (const SearchHit& h : hits[q]) {
      is_relevant.push_back(std::binary_search(docs.begin(), docs.end(), h.corpus_id) ? 1 : 0);
    }
    const auto correct_in_top = [&](std::size_t k) {
      const std::size_t n = std::min(k, is_relevant.size());
      return static_cast<double>(std::count(is_relevant.begin(), is_relevant.begin() + n, 1));
    };
    for (std::size_t i = 0; i < std::size(kAccuracyAtK); i++) {
      accuracy[i] += correct_in_top(kAccuracyAtK[i]) > 0 ? 1 : 0;
    }
    for (std::size_t i = 0; i < std::size(kPrecisionRecallAtK); i++) {
      const double correct = correct_in_top(kPrecisionRecallAtK[i]);
      precision[i] += correct / static_cast<double>(kPrecisionRecallAtK[i]);
      recall[i] += correct / static_cast<double>(docs.size());
    }
    for (std::size_t r = 0; r < std::min(kMrrAtK, is_relevant.size()); r++) {
      if (is_relevant[r]) {
        mrr += 1.0 / static_cast<double>(r + 1);
        break;
      }
    }
    const std::vector<int> ideal(docs.size(), 1);
    ndcg += dcg_at_k(is_relevant, kNdcgAtK) / dcg_at_k(ideal, kNdcgAtK);
    double found = 0, sum_precisions = 0;
    for (std::size_t r = 0; r < std::min(kMapAtK, is_relevant.size()); r++) {
      if (is_relevant[r]) sum_precisions += ++found / static_cast<double>(r + 1);
    }
    map += sum_precisions / static_cast<double>(std::min(kMapAtK, docs.size()));
  }
  const double n = static_cast<double>(nq);
  const std::string prefix = fn + "_";
  for (std::size_t i = 0; i < std::size(kAccuracyAtK); i++) {
    out.push_back({prefix + "accuracy@" + std::to_string(kAccuracyAtK[i]), accuracy[i] / n});
  }
  for (std::size_t i = 0; i < std::size(kPrecisionRecallAtK); i++) {
    out.push_back(
        {prefix + "precision@" + std::to_string(kPrecisionRecallAtK[i]), precision[i] / n});
  }
  for (std::size_t i = 0; i < std::size(kPrecisionRecallAtK); i++) {
    out.push_back({prefix + "recall@" + std::to_string(kPrecisionRecallAtK[i]), recall[i] / n});
  }
  out.push_back({prefix + "ndcg@" + std::to_string(kNdcgAtK), ndcg / n});
  out.push_back({prefix + "mrr@" + std::to_string(kMrrAtK), mrr / n});
  out.push_back({prefix + "map@" + std::to_string(kMapAtK), map / n});
}

}  // namespace

Metrics retrieval_metrics(const Matrix& queries, const Matrix& corpus,
                          const std::vector<std::vector<std::size_t>>& relevant) {
  SIMTUNE_CHECK(relevant.size() == queries.rows);
  if (queries.rows == 0) throw Error("information retrieval evaluation needs at least one query");
  Metrics out;
  const std::vector<SimilarityFunction> fns(std::begin(kFunctions), std::end(kFunctions));
  const auto hits = semantic_search_each(queries, corpus, kMaxK, fns);
  for (std::size_t f = 0; f < fns.size(); f++) {
    append_function_metrics(similarity_function_name(fns[f]), hits[f], relevant, out);
  }
  return out;
}

Metrics evaluate_retrieval(const EncodeFn& encode, const RetrievalSet& set) {
  if (set.queries.empty()) {
    throw Error("information retrieval evaluation: no query has a relevant document");
  }
  return retrieval_metrics(encode(set.queries), encode(set.corpus), set.relevant);
}

std::string retrieval_main_metric(const Metrics& metrics) {
  const std::string cosine = "cosine_ndcg@" + std::to_string(kNdcgAtK);
  const std::string dot = "dot_ndcg@" + std::to_string(kNdcgAtK);
  return metric_value(metrics, dot) > metric_value(metrics, cosine) ? dot : cosine;
}

void append_retrieval_csv(const std::string& dir, const std::string& name, int epoch, long steps,
                          const Metrics& metrics) {
  // Column title and metric name of every CSV column after epoch,steps.
  std::vector<std::pair<std::string, std::string>> columns;
  for (SimilarityFunction fn : kFunctions) {
    const std::string fn_name = similarity_function_name(fn);
    for (std::size_t k : kAccuracyAtK) {
      columns.push_back(
          {fn_name + "-Accuracy@" + std::to_string(k), fn_name + "_accuracy@" + std::to_string(k)});
    }
    for (std::size_t k : kPrecisionRecallAtK) {
      columns.push_back({fn_name + "-Precision@" + std::to_string(k),
                         fn_name + "_precision@" + std::to_string(k)});
      columns.push_back(
          {fn_name + "-Recall@" + std::to_string(k), fn_name + "_recall@" + std::to_string(k)});
    }
    columns.push_back(
        {fn_name + "-MRR@" + std::to_string(kMrrAtK), fn_name + "_mrr@" + std::to_string(kMrrAtK)});
    columns.push_back({fn_name + "-NDCG@" + std::to_string(kNdcgAtK),
                       fn_name + "_ndcg@" + std::to_string(kNdcgAtK)});
    columns.push_back(
        {fn_name + "-MAP@" + std::to_string(kMapAtK), fn_name + "_map@" + std::to_string(kMapAtK)});
  }
  std::vector<std::string> titles;
  std::vector<double> values;
  for (const auto& [title, metric] : columns) {
    titles.push_back(title);
    values.push_back(metric_value(metrics, metric));
  }
  append_results_csv(
      dir, "Information-Retrieval_evaluation" + (name.empty() ? "" : "_" + name) + "_results.csv",
      titles, epoch, steps, values);
}

}  // namespace simtune

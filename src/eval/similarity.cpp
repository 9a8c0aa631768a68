#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "simtune/core/check.h"
#include "simtune/core/error.h"
#include "simtune/eval/evaluator.h"

namespace simtune {
namespace {

std::vector<double> average_ranks(const std::vector<double>& v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> ranks(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) j++;
    const double rank = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (std::size_t k = i; k <= j; k++) ranks[order[k]] = rank;
    i = j + 1;
  }
  return ranks;
}

bool all_finite(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
}

}  // namespace

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  SIMTUNE_CHECK(x.size() == y.size());
  if (!all_finite(x) || !all_finite(y)) return std::numeric_limits<double>::quiet_NaN();
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); i++) {
    const double dx = x[i] - mx, dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  // A constant input has no correlation: scipy returns NaN there too.
  return sxy / std::sqrt(sxx * syy);
}

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  // NaN has no rank (it would keep its line's place in the sort and correlate with line order).
  if (!all_finite(x) || !all_finite(y)) return std::numeric_limits<double>::quiet_NaN();
  return pearson(average_ranks(x), average_ranks(y));
}

SimilarityMetrics similarity_metrics(const Matrix& a, const Matrix& b,
                                     const std::vector<double>& gold) {
  SIMTUNE_CHECK(a.rows == b.rows && a.cols == b.cols && a.rows == gold.size());
  const std::size_t n = a.rows;
  std::vector<double> cosine(n), euclidean(n), manhattan(n), dot(n);
  for (std::size_t i = 0; i < n; i++) {
    double ab = 0, aa = 0, bb = 0, l1 = 0, l2 = 0;
    for (std::size_t k = 0; k < a.cols; k++) {
      const double x = a.row(i)[k], y = b.row(i)[k];
      ab += x * y;
      aa += x * x;
      bb += y * y;
      l1 += std::abs(x - y);
      l2 += (x - y) * (x - y);
    }
    cosine[i] = ab / (std::sqrt(aa) * std::sqrt(bb));
    euclidean[i] = -std::sqrt(l2);
    manhattan[i] = -l1;
    dot[i] = ab;
  }
  SimilarityMetrics m;
  m.constant_or_not_finite =
      !all_finite(cosine) || !all_finite(dot) ||
      std::all_of(cosine.begin(), cosine.end(), [&](double c) { return c == cosine.front(); });
  m.cosine_pearson = pearson(gold, cosine);
  m.cosine_spearman = spearman(gold, cosine);
  m.euclidean_pearson = pearson(gold, euclidean);
  m.euclidean_spearman = spearman(gold, euclidean);
  m.manhattan_pearson = pearson(gold, manhattan);
  m.manhattan_spearman = spearman(gold, manhattan);
  m.dot_pearson = pearson(gold, dot);
  m.dot_spearman = spearman(gold, dot);
  return m;
}

Metrics named_metrics(const SimilarityMetrics& m) {
  return {{"pearson_cosine", m.cosine_pearson},
          {"spearman_cosine", m.cosine_spearman},
          {"pearson_euclidean", m.euclidean_pearson},
          {"spearman_euclidean", m.euclidean_spearman},
          {"pearson_manhattan", m.manhattan_pearson},
          {"spearman_manhattan", m.manhattan_spearman},
          {"pearson_dot", m.dot_pearson},
          {"spearman_dot", m.dot_spearman}};
}

SimilarityMetrics evaluate_pairs(const EncodeFn& encode, const std::vector<Pair>& pairs) {
  if (pairs.size() < 2) throw Error("evaluation needs at least 2 pairs");
  std::vector<std::string> first, second;
  std::vector<double> gold;
  for (const Pair& p : pairs) {
    first.push_back(p.a);
    second.push_back(p.b);
    gold.push_back(p.score);
  }
  return similarity_metrics(encode(first), encode(second), gold);
}

void append_metrics_csv(const std::string& dir, const std::string& name, int epoch, long steps,
                        const SimilarityMetrics& m) {
  append_results_csv(
      dir, "similarity_evaluation_" + name + "_results.csv",
      {"cosine_pearson", "cosine_spearman", "euclidean_pearson", "euclidean_spearman",
       "manhattan_pearson", "manhattan_spearman", "dot_pearson", "dot_spearman"},
      epoch, steps,
      {m.cosine_pearson, m.cosine_spearman, m.euclidean_pearson, m.euclidean_spearman,
       m.manhattan_pearson, m.manhattan_spearman, m.dot_pearson, m.dot_spearman});
}

}  // namespace simtune

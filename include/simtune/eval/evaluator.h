// sentence-transformers' EmbeddingSimilarityEvaluator: how well similarity of embeddings ranks
// the gold scores of sentence pairs.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "simtune/core/matrix.h"
#include "simtune/data/pairs.h"
#include "simtune/eval/metrics.h"

namespace simtune {

// Pearson's r, and Spearman's rho (Pearson of ranks, ties sharing their average rank), as
// scipy.stats.pearsonr / spearmanr compute them, in double precision: NaN when either input is
// constant or holds a NaN or infinity, as scipy gives.
double pearson(const std::vector<double>& x, const std::vector<double>& y);
double spearman(const std::vector<double>& x, const std::vector<double>& y);

struct SimilarityMetrics {
  double cosine_pearson = 0, cosine_spearman = 0;
  double euclidean_pearson = 0, euclidean_spearman = 0;  // of -L2 distance
  double manhattan_pearson = 0, manhattan_spearman = 0;  // of -L1 distance
  double dot_pearson = 0, dot_spearman = 0;
  // The model's similarities were all equal or not all finite (broken weights, a diverged
  // run): the correlations are NaN, and callers should say why.
  bool constant_or_not_finite = false;
  double main_score() const { return cosine_spearman; }
};

// The metrics under EmbeddingSimilarityEvaluator's keys (before its "<name>_" prefix), in its
// order: pearson_cosine, spearman_cosine, pearson_euclidean, spearman_euclidean,
// pearson_manhattan, spearman_manhattan, pearson_dot, spearman_dot. What `eval --json`, the
// training log and best-model selection use.
Metrics named_metrics(const SimilarityMetrics& m);

// Metrics of paired embeddings a[i], b[i] (rows of equal width) against gold scores.
SimilarityMetrics similarity_metrics(const Matrix& a, const Matrix& b,
                                     const std::vector<double>& gold);

// Encodes both sides of `pairs` with `encode` and scores them.
SimilarityMetrics evaluate_pairs(const EncodeFn& encode, const std::vector<Pair>& pairs);

// Appends a row to <dir>/similarity_evaluation_<name>_results.csv, writing the header first
// when the file is new: epoch,steps,cosine_pearson,...,dot_spearman (sentence-transformers'
// columns).
void append_metrics_csv(const std::string& dir, const std::string& name, int epoch, long steps,
                        const SimilarityMetrics& m);

}  // namespace simtune

// sentence-transformers' BinaryClassificationEvaluator: how well a threshold on the similarity
// of a pair's embeddings separates label 1 (similar, duplicate) from label 0.
#pragma once

#include <string>
#include <vector>

#include "simtune/core/matrix.h"
#include "simtune/data/pairs.h"
#include "simtune/eval/metrics.h"

namespace simtune {

// For cosine, dot, euclidean and manhattan (similarity_fn_names in that order; the last two as
// sklearn's paired distances, lower meaning similar), in the library's names and order:
// <fn>_accuracy, _accuracy_threshold, _f1, _f1_threshold, _precision, _recall, _ap, _mcc, then
// max_<metric> over the four for each metric. The thresholds are the library's: the midpoint
// between the pair where the best accuracy (F1) is reached and the next, in the order of the
// stable sort by score. AP as sklearn's average_precision_score, MCC as its matthews_corrcoef at
// the F1 threshold. labels are 0 or 1, both present; a[i], b[i] are pair i's embeddings.
Metrics binary_classification_metrics(const Matrix& a, const Matrix& b,
                                      const std::vector<int>& labels);

// Encodes both sides of `pairs` and scores them; a pair's score is its label, which must be 0
// or 1 (Error naming `source` and the pair otherwise).
Metrics evaluate_binary_classification(const EncodeFn& encode, const std::vector<Pair>& pairs,
                                       const std::string& source);

// The library's primary metric with several similarity functions.
inline constexpr const char* kBinaryClassificationMainMetric = "max_ap";

// Appends a row to <dir>/binary_classification_evaluation_<name>_results.csv (header first
// when new): epoch,steps, then per function <fn>_accuracy, _accuracy_threshold, _f1,
// _precision, _recall, _f1_threshold, _ap, _mcc, the library's columns.
void append_binary_classification_csv(const std::string& dir, const std::string& name, int epoch,
                                      long steps, const Metrics& metrics);

}  // namespace simtune

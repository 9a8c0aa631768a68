// sentence-transformers' TripletEvaluator: how often an anchor is more similar to its positive
// than to its negative.
#pragma once

#include <string>
#include <vector>

#include "simtune/core/matrix.h"
#include "simtune/data/triplets.h"
#include "simtune/eval/metrics.h"

namespace simtune {

// cosine_accuracy, dot_accuracy, euclidean_accuracy, manhattan_accuracy (similarity_fn_names in
// that order), then max_accuracy: the share of rows i where sim(anchor, positive) >
// sim(anchor, negative) strictly (margin 0; the distances as negative similarities).
Metrics triplet_metrics(const Matrix& anchors, const Matrix& positives, const Matrix& negatives);

// Encodes the three columns and scores them; Error when there are no triplets.
Metrics evaluate_triplets(const EncodeFn& encode, const std::vector<Triplet>& triplets);

// The library's primary metric with several similarity functions.
inline constexpr const char* kTripletMainMetric = "max_accuracy";

// Appends a row to <dir>/triplet_evaluation_<name>_results.csv (header first when new):
// epoch,steps,accuracy_cosine,accuracy_dot,accuracy_euclidean,accuracy_manhattan.
void append_triplet_csv(const std::string& dir, const std::string& name, int epoch, long steps,
                        const Metrics& metrics);

}  // namespace simtune

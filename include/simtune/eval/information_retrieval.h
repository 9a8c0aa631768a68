// sentence-transformers' InformationRetrievalEvaluator (its 3.x defaults: cosine and dot
// scores): for each query, the corpus ranked by score, judged against its relevant documents.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "simtune/core/matrix.h"
#include "simtune/data/retrieval.h"
#include "simtune/eval/metrics.h"

namespace simtune {

// Per score function ("cosine", then "dot"): accuracy@k, precision@k, recall@k for k in 1, 3,
// 5, 10, then ndcg@10, mrr@10, map@100, named as the library names them ("cosine_ndcg@10") and
// averaged over the queries with the library's formulas. Rankings are exact (scores in double,
// the lower corpus index first on a tie; semantic_search's blocked top-k, no full score matrix).
// relevant[q] lists query q's relevant corpus rows, ascending; every query has at least one.
Metrics retrieval_metrics(const Matrix& queries, const Matrix& corpus,
                          const std::vector<std::vector<std::size_t>>& relevant);

// Encodes the queries and the corpus with `encode` and scores them.
Metrics evaluate_retrieval(const EncodeFn& encode, const RetrievalSet& set);

// The library's primary metric: cosine_ndcg@10 or dot_ndcg@10, whichever is higher (cosine on a
// tie).
std::string retrieval_main_metric(const Metrics& metrics);

// Appends a row to <dir>/Information-Retrieval_evaluation_<name>_results.csv, writing the
// header first when the file is new, in the library's layout: epoch,steps, then per score
// function in name order cosine-Accuracy@1..@10, cosine-Precision@1,cosine-Recall@1, ...,
// cosine-MRR@10, cosine-NDCG@10, cosine-MAP@100, and the same for dot.
void append_retrieval_csv(const std::string& dir, const std::string& name, int epoch, long steps,
                          const Metrics& metrics);

}  // namespace simtune

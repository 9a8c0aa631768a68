// The evaluators with named metrics behind one interface, so `simtune eval` and the trainer run
// any of them alike: InformationRetrievalEvaluator, BinaryClassificationEvaluator,
// TripletEvaluator. (EmbeddingSimilarityEvaluator keeps its own struct, evaluator.h.)
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "simtune/data/pairs.h"
#include "simtune/data/retrieval.h"
#include "simtune/data/triplets.h"
#include "simtune/eval/metrics.h"

namespace simtune {

class Evaluator {
 public:
  virtual ~Evaluator() = default;
  // The evaluator's name (its CSV file's suffix; may be empty, as the library's default).
  virtual const std::string& name() const = 0;
  // Metrics under the library's names, unprefixed ("cosine_ndcg@10").
  virtual Metrics evaluate(const EncodeFn& encode) const = 0;
  // The library's primary metric among `metrics`.
  virtual std::string primary_metric(const Metrics& metrics) const = 0;
  // Appends the library's results CSV row to <dir>/<its file name>.
  virtual void append_csv(const std::string& dir, int epoch, long steps,
                          const Metrics& metrics) const = 0;
  // How many items it evaluates, named for output ({"queries", n}, {"corpus", n}).
  virtual std::vector<std::pair<std::string, std::size_t>> counts() const = 0;
};

std::unique_ptr<Evaluator> make_retrieval_evaluator(std::string name, RetrievalSet set);
// Pairs whose scores are 0/1 labels; `source` names them in errors (a label that is neither).
std::unique_ptr<Evaluator> make_binary_classification_evaluator(std::string name,
                                                                std::vector<Pair> pairs,
                                                                std::string source);
std::unique_ptr<Evaluator> make_triplet_evaluator(std::string name, std::vector<Triplet> triplets);

// "<name>_<metric>" as the library prefixes an evaluator's metrics (the metric alone when the
// name is empty); the trainer reports "eval_" before it.
std::string prefixed_metric(const std::string& evaluator_name, const std::string& metric);

}  // namespace simtune

#include "simtune/eval/evaluators.h"

#include <utility>

#include "simtune/eval/classification.h"
#include "simtune/eval/information_retrieval.h"
#include "simtune/eval/triplet.h"

namespace simtune {
namespace {

class RetrievalEvaluator final : public Evaluator {
 public:
  RetrievalEvaluator(std::string name, RetrievalSet set)
      : name_(std::move(name)), set_(std::move(set)) {}
  const std::string& name() const override { return name_; }
  Metrics evaluate(const EncodeFn& encode) const override {
    return evaluate_retrieval(encode, set_);
  }
  std::string primary_metric(const Metrics& metrics) const override {
    return retrieval_main_metric(metrics);
  }
  void append_csv(const std::string& dir, int epoch, long steps,
                  const Metrics& metrics) const override {
    append_retrieval_csv(dir, name_, epoch, steps, metrics);
  }
  std::vector<std::pair<std::string, std::size_t>> counts() const override {
    return {{"queries", set_.queries.size()}, {"corpus", set_.corpus.size()}};
  }

 private:
  std::string name_;
  RetrievalSet set_;
};

class BinaryClassificationEvaluator final : public Evaluator {
 public:
  BinaryClassificationEvaluator(std::string name, std::vector<Pair> pairs, std::string source)
      : name_(std::move(name)), pairs_(std::move(pairs)), source_(std::move(source)) {}
  const std::string& name() const override { return name_; }
  Metrics evaluate(const EncodeFn& encode) const override {
    return evaluate_binary_classification(encode, pairs_, source_);
  }
  std::string primary_metric(const Metrics&) const override {
    return kBinaryClassificationMainMetric;
  }
  void append_csv(const std::string& dir, int epoch, long steps,
                  const Metrics& metrics) const override {
    append_binary_classification_csv(dir, name_, epoch, steps, metrics);
  }
  std::vector<std::pair<std::string, std::size_t>> counts() const override {
    return {{"pairs", pairs_.size()}};
  }

 private:
  std::string name_;
  std::vector<Pair> pairs_;
  std::string source_;
};

class TripletEvaluator final : public Evaluator {
 public:
  TripletEvaluator(std::string name, std::vector<Triplet> triplets)
      : name_(std::move(name)), triplets_(std::move(triplets)) {}
  const std::string& name() const override { return name_; }
  Metrics evaluate(const EncodeFn& encode) const override {
    return evaluate_triplets(encode, triplets_);
  }
  std::string primary_metric(const Metrics&) const override { return kTripletMainMetric; }
  void append_csv(const std::string& dir, int epoch, long steps,
                  const Metrics& metrics) const override {
    append_triplet_csv(dir, name_, epoch, steps, metrics);
  }
  std::vector<std::pair<std::string, std::size_t>> counts() const override {
    return {{"triplets", triplets_.size()}};
  }

 private:
  std::string name_;
  std::vector<Triplet> triplets_;
};

}  // namespace

std::unique_ptr<Evaluator> make_retrieval_evaluator(std::string name, RetrievalSet set) {
  return std::make_unique<RetrievalEvaluator>(std::move(name), std::move(set));
}

std::unique_ptr<Evaluator> make_binary_classification_evaluator(std::string name,
                                                                std::vector<Pair> pairs,
                                                                std::string source) {
  return std::make_unique<BinaryClassificationEvaluator>(std::move(name), std::move(pairs),
                                                         std::move(source));
}

std::unique_ptr<Evaluator> make_triplet_evaluator(std::string name, std::vector<Triplet> triplets) {
  return std::make_unique<TripletEvaluator>(std::move(name), std::move(triplets));
}

std::string prefixed_metric(const std::string& evaluator_name, const std::string& metric) {
  return evaluator_name.empty() ? metric : evaluator_name + "_" + metric;
}

}  // namespace simtune

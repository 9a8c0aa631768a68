#include "train/loss.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "simtune/core/error.h"
#include "train/contrastive_loss.h"
#include "train/cosent_loss.h"
#include "train/cosine_similarity_loss.h"
#include "train/mse_loss.h"
#include "train/multiple_negatives_ranking_loss.h"
#include "train/softmax_loss.h"
#include "train/triplet_loss.h"

namespace simtune {

void Loss::bind_parameters(const float* values, float* grads) {
  parameter_values_ = values;
  parameter_grads_ = grads;
  parameter_floats_ = 0;
  for (const ParamTensor& t : parameters()) parameter_floats_ += t.numel;
}

void Loss::scale_parameter_gradients(float factor) {
  for (std::size_t i = 0; i < parameter_floats_; i++) parameter_grads_[i] *= factor;
}
namespace {

constexpr double kAnyLabel = std::numeric_limits<double>::infinity();

struct LossEntry {
  LossShape shape;
  std::unique_ptr<Loss> (*make)(int columns, const LossDims& dims);
};

// The one table of losses: a new loss adds its line here.
const std::vector<LossEntry>& loss_table() {
  static const std::vector<LossEntry> table = {
      {{"CosineSimilarityLoss", "(a, b, score): MSE of cosine and score", true, 0, 1, 2, 2},
       [](int, const LossDims&) -> std::unique_ptr<Loss> {
         return std::make_unique<CosineSimilarityLoss>();
       }},
      {{"MultipleNegativesRankingLoss",
        "(anchor, positive[, negative...]): in-batch negatives, scale 20", false, 0, 0, 2, 0, false,
        false, true},
       [](int columns, const LossDims&) -> std::unique_ptr<Loss> {
         return std::make_unique<MultipleNegativesRankingLoss>("MultipleNegativesRankingLoss",
                                                               columns, false);
       }},
      {{"CachedMultipleNegativesRankingLoss",
        "MultipleNegativesRankingLoss over a large batch in --mini-batch-size pieces (GradCache)",
        false, 0, 0, 2, 0, true, false, true},
       [](int columns, const LossDims&) -> std::unique_ptr<Loss> {
         return std::make_unique<MultipleNegativesRankingLoss>("CachedMultipleNegativesRankingLoss",
                                                               columns, false);
       }},
      {{"MultipleNegativesSymmetricRankingLoss",
        "(anchor, positive[, negative...]): both directions", false, 0, 0, 2, 0, false, false,
        true},
       [](int columns, const LossDims&) -> std::unique_ptr<Loss> {
         return std::make_unique<MultipleNegativesRankingLoss>(
             "MultipleNegativesSymmetricRankingLoss", columns, true);
       }},
      {{"CoSENTLoss", "(a, b, score): pairwise ranking of cosines, scale 20", true, -kAnyLabel,
        kAnyLabel, 2, 2, false, false, true},
       [](int, const LossDims&) -> std::unique_ptr<Loss> {
         return std::make_unique<CoSENTLoss>(false);
       }},
      {{"AnglELoss", "(a, b, score): CoSENT over angle similarity, scale 20", true, -kAnyLabel,
        kAnyLabel, 2, 2, false, false, true},
       [](int, const LossDims&) -> std::unique_ptr<Loss> {
         return std::make_unique<CoSENTLoss>(true);
       }},
      {{"ContrastiveLoss", "(a, b, label 1 similar / 0 not): cosine distance, margin 0.5", true, 0,
        1, 2, 2},
       [](int, const LossDims&) -> std::unique_ptr<Loss> {
         return std::make_unique<ContrastiveLoss>(false);
       }},
      {{"OnlineContrastiveLoss", "(a, b, label 1/0): ContrastiveLoss on the hard pairs only", true,
        0, 1, 2, 2, false, false, true},
       [](int, const LossDims&) -> std::unique_ptr<Loss> {
         return std::make_unique<ContrastiveLoss>(true);
       }},
      {{"TripletLoss", "(anchor, positive, negative): euclidean distance, margin 5", false, 0, 0, 3,
        3},
       [](int, const LossDims&) -> std::unique_ptr<Loss> {
         return std::make_unique<TripletLoss>();
       }},
      {{"MSELoss",
        "(text[, translation...]) with --teacher-embeddings: distillation, MSE to the teacher",
        false, 0, 0, 1, 0, false, true},
       [](int columns, const LossDims&) -> std::unique_ptr<Loss> {
         return std::make_unique<MSELoss>(columns);
       }},
      {{"SoftmaxLoss",
        "(a, b, label 0..K-1): a classifier over (u, v, |u-v|), cross-entropy (--num-labels K)",
        true, 0, kAnyLabel, 2, 2, false, false, false, true},
       [](int, const LossDims& dims) -> std::unique_ptr<Loss> {
         return std::make_unique<SoftmaxLoss>(dims.num_labels, dims.dimension);
       }},
  };
  return table;
}

const LossEntry& entry(const std::string& name) {
  std::string names;
  for (const LossEntry& e : loss_table()) {
    if (e.shape.name == name) return e;
    names += (names.empty() ? "" : ", ") + e.shape.name;
  }
  throw Error("unknown loss \"" + name + "\" (simtune has " + names + ")");
}

}  // namespace

const std::vector<LossShape>& loss_shapes() {
  static const std::vector<LossShape> shapes = [] {
    std::vector<LossShape> s;
    for (const LossEntry& e : loss_table()) s.push_back(e.shape);
    return s;
  }();
  return shapes;
}

const LossShape& loss_shape(const std::string& name) {
  return entry(name).shape;
}

PairFileOptions with_loss_shape(PairFileOptions options, const LossShape& loss, int num_labels) {
  options.read_score = loss.takes_label;
  options.min_score = static_cast<float>(loss.min_label);
  options.max_score = static_cast<float>(loss.max_label);
  options.integer_score = loss.classes;
  options.one_text = loss.min_texts == 1;
  if (loss.classes && num_labels > 0) options.max_score = static_cast<float>(num_labels - 1);
  return options;
}

int loss_classes(const std::string& name, int num_labels, const PairRows& pairs) {
  if (!loss_shape(name).classes) return 0;
  double largest = 0;
  for (std::size_t i = 0; i < pairs.size(); i++) {
    const double label = pairs.score(i);
    if (!(label >= 0) || label != std::floor(label) || (num_labels > 0 && label >= num_labels)) {
      char value[32];
      std::snprintf(value, sizeof value, "%g", label);
      throw Error("training example " + std::to_string(i + 1) + ": label " + value +
                  " is not a class of " + name + " (a whole number from 0" +
                  (num_labels > 0 ? " to " + std::to_string(num_labels - 1) : "") + ")");
    }
    largest = std::max(largest, label);
  }
  return num_labels > 0 ? num_labels : static_cast<int>(largest) + 1;
}

std::unique_ptr<Loss> make_loss(const std::string& name, int columns, const LossDims& dims) {
  const LossEntry& e = entry(name);
  const LossShape& s = e.shape;
  if (columns < s.min_texts || (s.max_texts > 0 && columns > s.max_texts)) {
    throw Error(name + " takes examples of " + std::to_string(s.min_texts) +
                (s.max_texts == s.min_texts ? ""
                 : s.max_texts == 0         ? " or more"
                                            : " to " + std::to_string(s.max_texts)) +
                " texts; the data has " + std::to_string(columns) + " per example");
  }
  std::unique_ptr<Loss> loss = e.make(columns, dims);
  if (dims.dimension > 0) loss->check_dimension(dims.dimension);
  return loss;
}

}  // namespace simtune

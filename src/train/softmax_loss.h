// sentence-transformers' SoftmaxLoss, the original SBERT NLI objective, with the library's
// defaults (concatenation_sent_rep, concatenation_sent_difference, no multiplication): a linear
// classifier over concat(u, v, |u - v|) of each pair's embeddings, torch's CrossEntropyLoss
// (mean over the batch) against the pair's class. The classifier is the loss's own parameters.
#pragma once

#include <string>
#include <vector>

#include "train/loss.h"

namespace simtune {

// torch.nn.Linear's initialisation (kaiming_uniform_ with a = sqrt(5), and its bias rule): every
// value of `values` uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)).
void init_linear(float* values, std::size_t count, int fan_in, Rng& rng);

class SoftmaxLoss : public Loss {
 public:
  // num_labels classes over embeddings of `dimension` values; Error unless both are positive.
  SoftmaxLoss(int num_labels, int dimension);
  std::string description() const override;
  int columns() const override { return 2; }
  // labels (B): class indices, checked when the data was read.
  float forward_backward(float* d_embeddings, const float* embeddings, const float* labels, int B,
                         int D) override;
  // "classifier.weight" (num_labels, 3 * dimension), then "classifier.bias" (num_labels).
  std::vector<ParamTensor> parameters() const override;
  void init_parameters(float* values, Rng& rng) const override;

 private:
  int classes_, dimension_;
  std::vector<float> features_, d_features_;  // (3D) scratch for one example
  std::vector<double> logits_;                // (classes)
};

}  // namespace simtune

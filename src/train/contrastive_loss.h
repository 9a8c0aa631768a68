// sentence-transformers' ContrastiveLoss and OnlineContrastiveLoss on (text_a, text_b, label)
// pairs, label 1 for similar and 0 for dissimilar, with the library's defaults: cosine distance
// d = 1 - cos(u, v) and margin 0.5.
//   ContrastiveLoss: mean over the batch of 0.5 * (y d^2 + (1 - y) relu(margin - d)^2).
//   OnlineContrastiveLoss: the sum of d^2 over the hard positives (label 1, d above the smallest
//   negative distance) and relu(margin - d)^2 over the hard negatives (label 0, d below the
//   largest positive distance); with at most one of a kind, the other kind's mean is the bar.
#pragma once

#include <string>
#include <vector>

#include "train/loss.h"

namespace simtune {

// dist (B): the distances, labels (B). Returns the loss.
float contrastive_forward(const float* dist, const float* labels, int B, float margin) noexcept;
// ddist (B) += gradient (times dloss).
void contrastive_backward(float* ddist, const float* dist, const float* labels, int B, float margin,
                          float dloss = 1.0f) noexcept;

float online_contrastive_forward(const float* dist, const float* labels, int B,
                                 float margin) noexcept;
void online_contrastive_backward(float* ddist, const float* dist, const float* labels, int B,
                                 float margin, float dloss = 1.0f) noexcept;

class ContrastiveLoss : public Loss {
 public:
  explicit ContrastiveLoss(bool online, float margin = 0.5f) : online_(online), margin_(margin) {}
  std::string description() const override;
  int columns() const override { return 2; }
  float forward_backward(float* d_embeddings, const float* embeddings, const float* labels, int B,
                         int D) override;

 private:
  bool online_;
  float margin_;
  std::vector<float> cos_, dist_, ddist_;
};

}  // namespace simtune

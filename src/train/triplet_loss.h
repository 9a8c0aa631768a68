// sentence-transformers' TripletLoss on (anchor, positive, negative) with its defaults: euclidean
// distance as torch's F.pairwise_distance (||x - y + 1e-6||) and margin 5; the loss is the batch
// mean of relu(d(a, p) - d(a, n) + margin).
#pragma once

#include <string>
#include <vector>

#include "train/loss.h"

namespace simtune {

// dist (B) = ||x - y + eps|| of the rows of x, y (B, D).
void pairwise_distance_forward(float* dist, const float* x, const float* y, int B, int D) noexcept;
// dx, dy (B, D) += gradient given ddist (B), from forward's dist.
void pairwise_distance_backward(float* dx, float* dy, const float* ddist, const float* dist,
                                const float* x, const float* y, int B, int D) noexcept;

// pos, neg (B): the distances to the positives and negatives; returns mean relu(pos - neg +
// margin).
float triplet_forward(const float* pos, const float* neg, int B, float margin) noexcept;
// dpos, dneg (B) += gradient (times dloss).
void triplet_backward(float* dpos, float* dneg, const float* pos, const float* neg, int B,
                      float margin, float dloss = 1.0f) noexcept;

class TripletLoss : public Loss {
 public:
  explicit TripletLoss(float margin = 5.0f) : margin_(margin) {}
  std::string description() const override;
  int columns() const override { return 3; }
  float forward_backward(float* d_embeddings, const float* embeddings, const float* labels, int B,
                         int D) override;

 private:
  float margin_;
  std::vector<float> pos_, neg_, dpos_, dneg_;
};

}  // namespace simtune

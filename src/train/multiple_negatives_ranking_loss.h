// sentence-transformers' MultipleNegativesRankingLoss and MultipleNegativesSymmetricRankingLoss:
// for (anchor, positive, negative...) examples, the cross-entropy of scale * cos(anchor_i, c_j)
// over every candidate c_j of the batch (all positives, then each negative column), the target
// being anchor i's own positive: every other example's texts are in-batch negatives. The symmetric
// variant averages that with the cross-entropy of each positive over the anchors.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "train/loss.h"

namespace simtune {

// scores (B, N) = scale * a c^T; a (B, D), c (N, D) rows already L2-normalised.
void similarity_matrix_forward(float* scores, const float* a, const float* c, int B, int N, int D,
                               float scale) noexcept;
// da (B, D), dc (N, D) += gradient of similarity_matrix_forward given dscores (B, N).
void similarity_matrix_backward(float* da, float* dc, const float* dscores, const float* a,
                                const float* c, int B, int N, int D, float scale) noexcept;

// scores (B, N), N >= B, target of row i is column i. Writes probs (B, N), the row softmax, and,
// when symmetric, probs_t (B, B): probs_t[i*B + j] the softmax of column j of scores[:, :B] over
// i. Returns the mean cross-entropy of the rows, or with symmetric the mean of it and the
// columns' mean cross-entropy.
float ranking_cross_entropy_forward(float* probs, float* probs_t, const float* scores, int B, int N,
                                    bool symmetric) noexcept;
// dscores (B, N) += gradient of the loss (times dloss) from forward's probs and probs_t.
void ranking_cross_entropy_backward(float* dscores, const float* probs, const float* probs_t, int B,
                                    int N, bool symmetric, float dloss = 1.0f) noexcept;

// Loss interface over the kernels above, with the library's defaults (scale 20, cosine).
class MultipleNegativesRankingLoss : public Loss {
 public:
  // name: the library's class this stands for (the cached variant computes the same loss).
  MultipleNegativesRankingLoss(std::string name, int columns, bool symmetric, float scale = 20.0f)
      : name_(std::move(name)), columns_(columns), symmetric_(symmetric), scale_(scale) {}
  std::string description() const override;
  int columns() const override { return columns_; }
  float forward_backward(float* d_embeddings, const float* embeddings, const float* labels, int B,
                         int D) override;

 private:
  std::string name_;
  int columns_;
  bool symmetric_;
  float scale_;
  std::vector<float> normed_, d_normed_, scores_, d_scores_, probs_, probs_t_;
};

}  // namespace simtune

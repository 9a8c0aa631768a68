// sentence-transformers' CosineSimilarityLoss: MSE between cos(u_i, v_i) and the label; and the
// pairwise cosine kernels the other pair losses share.
#pragma once

#include <string>
#include <vector>

#include "train/loss.h"

namespace simtune {

// cos (B): torch.cosine_similarity of the rows of u and v (B, D) (the product of the norms
// clamped from below at 1e-8).
void pairwise_cosine_forward(float* cos, const float* u, const float* v, int B, int D) noexcept;
// du, dv (B, D) += gradient given dcos (B), from forward's cos.
void pairwise_cosine_backward(float* du, float* dv, const float* dcos, const float* u,
                              const float* v, const float* cos, int B, int D) noexcept;

// u, v (B, D): the two sides' embeddings; labels (B). Writes cos (B) and returns the loss,
// mean over the batch of (cos_i - label_i)^2.
float cosine_similarity_loss_forward(float* cos, const float* u, const float* v,
                                     const float* labels, int B, int D) noexcept;

// du, dv (B, D) += gradient of the loss (times dloss) from forward's cos.
void cosine_similarity_loss_backward(float* du, float* dv, const float* u, const float* v,
                                     const float* cos, const float* labels, int B, int D,
                                     float dloss = 1.0f) noexcept;

// Loss interface over the two kernels above: columns (a, b), label the target cosine.
class CosineSimilarityLoss : public Loss {
 public:
  std::string description() const override;
  int columns() const override { return 2; }
  float forward_backward(float* d_embeddings, const float* embeddings, const float* labels, int B,
                         int D) override;

 private:
  std::vector<float> cos_;
};

}  // namespace simtune

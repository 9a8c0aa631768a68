// sentence-transformers' CoSENTLoss and AnglELoss on (text_a, text_b, score) pairs: with s_i the
// pair's similarity times the scale, log(1 + sum over pairs (i, j) of the batch with
// label_i < label_j of exp(s_i - s_j)); only the labels' order matters. CoSENT's similarity is
// the cosine, AnglE's the library's pairwise_angle_sim: |sum_k (re_k + im_k)| of the complex
// quotient of the two embeddings (first half real, second half imaginary), i.e.
// |a.c + b.d + b.c - a.d| / (|u| |v|) for u = (a, b), v = (c, d).
#pragma once

#include <string>
#include <vector>

#include "train/loss.h"

namespace simtune {

// sim (B): the library's pairwise_angle_sim of the rows of u and v (B, D), D even.
void angle_similarity_forward(float* sim, const float* u, const float* v, int B, int D) noexcept;
// du, dv (B, D) += gradient given dsim (B).
void angle_similarity_backward(float* du, float* dv, const float* dsim, const float* u,
                               const float* v, int B, int D) noexcept;

// scores (B): scaled similarities. Returns the loss (the log-sum-exp above).
float cosent_forward(const float* scores, const float* labels, int B) noexcept;
// dscores (B) += gradient of the loss (times dloss) given forward's return value.
void cosent_backward(float* dscores, const float* scores, const float* labels, float loss, int B,
                     float dloss = 1.0f) noexcept;

// Loss interface over the kernels above (scale 20, the library's default for both).
class CoSENTLoss : public Loss {
 public:
  explicit CoSENTLoss(bool angle, float scale = 20.0f) : angle_(angle), scale_(scale) {}
  std::string description() const override;
  int columns() const override { return 2; }
  float forward_backward(float* d_embeddings, const float* embeddings, const float* labels, int B,
                         int D) override;
  // AnglELoss: an even dimension only. The library's pairwise_angle_sim halves each embedding
  // with torch.chunk, which leaves an odd dimension's halves uneven, and its sums of their
  // products then fail (or, at 3, broadcast one half over the other): no formula to match.
  void check_dimension(int dimension) const override;

 private:
  bool angle_;
  float scale_;
  std::vector<float> normed_, d_normed_, sim_, scores_, d_scores_;
};

}  // namespace simtune

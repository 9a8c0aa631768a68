// sentence-transformers' MatryoshkaLoss: any loss applied to the embeddings truncated to each of
// several dimensions (their first `dim` values, not renormalised: the cosine losses normalise
// themselves), summed with weights, so the leading dimensions alone make a usable embedding
// (read back with `encode --dimensions`).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "train/loss.h"

namespace simtune {

// out (rows, dim) = the first dim columns of x (rows, D).
void truncate_rows_forward(float* out, const float* x, int rows, int D, int dim) noexcept;
// dx (rows, D) += weight * dout (rows, dim) in the first dim columns.
void truncate_rows_backward(float* dx, const float* dout, int rows, int D, int dim,
                            float weight) noexcept;

class MatryoshkaLoss : public Loss {
 public:
  // dims in any order (sorted largest first, as the library does, with their weights), each at
  // most the model's `dimension`; weights empty = all 1. Throws Error for anything else.
  MatryoshkaLoss(std::unique_ptr<Loss> inner, std::vector<int> dims, std::vector<float> weights,
                 int dimension);
  std::string description() const override;
  int columns() const override { return inner_->columns(); }
  float forward_backward(float* d_embeddings, const float* embeddings, const float* labels, int B,
                         int D) override;

 private:
  std::unique_ptr<Loss> inner_;
  std::vector<int> dims_;
  std::vector<float> weights_;
  std::vector<float> truncated_, d_truncated_;
};

}  // namespace simtune

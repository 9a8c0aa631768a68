// sentence-transformers' MSELoss, for distillation: every text's embedding against its example's
// teacher embedding (the label, a row of D values), the mean over all columns, examples and
// dimensions of the squared difference, as torch's MSELoss over the columns concatenated and
// the labels repeated once per column.
#pragma once

#include <string>

#include "train/loss.h"

namespace simtune {

// emb (columns*B, D), teacher (B, D). Returns the loss.
float mse_forward(const float* emb, const float* teacher, int columns, int B, int D) noexcept;
// demb (columns*B, D) += gradient (times dloss).
void mse_backward(float* demb, const float* emb, const float* teacher, int columns, int B, int D,
                  float dloss = 1.0f) noexcept;

class MSELoss : public Loss {
 public:
  explicit MSELoss(int columns) : columns_(columns) {}
  std::string description() const override;
  int columns() const override { return columns_; }
  // labels (B, D): the teacher embeddings.
  float forward_backward(float* d_embeddings, const float* embeddings, const float* labels, int B,
                         int D) override;

 private:
  int columns_;
};

}  // namespace simtune

#include "train/mse_loss.h"

#include <cstdint>

namespace simtune {

float mse_forward(const float* emb, const float* teacher, int columns, int B, int D) noexcept {
  float sum = 0.0f;
  for (int c = 0; c < columns; c++) {
    for (int i = 0; i < B; i++) {
      const float* e = emb + (static_cast<std::int64_t>(c) * B + i) * D;
      const float* t = teacher + static_cast<std::int64_t>(i) * D;
      for (int k = 0; k < D; k++) sum += (e[k] - t[k]) * (e[k] - t[k]);
    }
  }
  return sum / (static_cast<float>(columns) * static_cast<float>(B) * static_cast<float>(D));
}

void mse_backward(float* demb, const float* emb, const float* teacher, int columns, int B, int D,
                  float dloss) noexcept {
  const float w =
      dloss * 2.0f / (static_cast<float>(columns) * static_cast<float>(B) * static_cast<float>(D));
  for (int c = 0; c < columns; c++) {
    for (int i = 0; i < B; i++) {
      const std::int64_t row = (static_cast<std::int64_t>(c) * B + i) * D;
      const float* t = teacher + static_cast<std::int64_t>(i) * D;
      for (int k = 0; k < D; k++) demb[row + k] += w * (emb[row + k] - t[k]);
    }
  }
}

std::string MSELoss::description() const {
  return "MSELoss (distillation: mean squared difference to the teacher's embeddings)";
}

float MSELoss::forward_backward(float* d_embeddings, const float* embeddings, const float* labels,
                                int B, int D) {
  const float loss = mse_forward(embeddings, labels, columns_, B, D);
  mse_backward(d_embeddings, embeddings, labels, columns_, B, D);
  return loss;
}

}  // namespace simtune

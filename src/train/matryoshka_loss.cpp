#include "train/matryoshka_loss.h"

#include <algorithm>
#include <cstdint>
#include <numeric>

#include "simtune/core/error.h"

namespace simtune {

void truncate_rows_forward(float* out, const float* x, int rows, int D, int dim) noexcept {
  for (int r = 0; r < rows; r++) {
    std::copy_n(x + static_cast<std::int64_t>(r) * D, dim,
                out + static_cast<std::int64_t>(r) * dim);
  }
}

void truncate_rows_backward(float* dx, const float* dout, int rows, int D, int dim,
                            float weight) noexcept {
  for (int r = 0; r < rows; r++) {
    float* d = dx + static_cast<std::int64_t>(r) * D;
    const float* g = dout + static_cast<std::int64_t>(r) * dim;
    for (int k = 0; k < dim; k++) d[k] += weight * g[k];
  }
}

MatryoshkaLoss::MatryoshkaLoss(std::unique_ptr<Loss> inner, std::vector<int> dims,
                               std::vector<float> weights, int dimension)
    : inner_(std::move(inner)) {
  if (dims.empty()) throw Error("MatryoshkaLoss needs at least one dimension");
  for (int d : dims) {
    if (d < 1 || d > dimension) {
      throw Error("Matryoshka dimension " + std::to_string(d) + " is outside the model's 1.." +
                  std::to_string(dimension));
    }
    inner_->check_dimension(d);
  }
  if (weights.empty()) weights.assign(dims.size(), 1.0f);
  if (weights.size() != dims.size()) {
    throw Error("MatryoshkaLoss: " + std::to_string(weights.size()) + " weights for " +
                std::to_string(dims.size()) + " dimensions");
  }
  std::vector<std::size_t> order(dims.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t x, std::size_t y) { return dims[x] > dims[y]; });
  for (std::size_t i : order) {
    dims_.push_back(dims[i]);
    weights_.push_back(weights[i]);
  }
}

std::string MatryoshkaLoss::description() const {
  std::string d = "MatryoshkaLoss over " + inner_->description() + ", dimensions";
  for (std::size_t i = 0; i < dims_.size(); i++) {
    d += (i == 0 ? " " : ", ") + std::to_string(dims_[i]);
  }
  return d;
}

float MatryoshkaLoss::forward_backward(float* d_embeddings, const float* embeddings,
                                       const float* labels, int B, int D) {
  const int rows = columns() * B;
  float loss = 0.0f;
  for (std::size_t i = 0; i < dims_.size(); i++) {
    const int dim = dims_[i];
    const std::size_t n = static_cast<std::size_t>(rows) * dim;
    truncated_.resize(n);
    d_truncated_.assign(n, 0.0f);
    truncate_rows_forward(truncated_.data(), embeddings, rows, D, dim);
    loss += weights_[i] *
            inner_->forward_backward(d_truncated_.data(), truncated_.data(), labels, B, dim);
    truncate_rows_backward(d_embeddings, d_truncated_.data(), rows, D, dim, weights_[i]);
  }
  return loss;
}

}  // namespace simtune

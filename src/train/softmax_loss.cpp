#include "train/softmax_loss.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "simtune/core/check.h"
#include "simtune/core/error.h"

namespace simtune {

void init_linear(float* values, std::size_t count, int fan_in, Rng& rng) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  for (std::size_t i = 0; i < count; i++) {
    values[i] = static_cast<float>((2.0 * rng.uniform() - 1.0) * bound);
  }
}

SoftmaxLoss::SoftmaxLoss(int num_labels, int dimension)
    : classes_(num_labels), dimension_(dimension) {
  if (num_labels < 1 || dimension < 1) {
    throw Error("SoftmaxLoss needs at least one class (--num-labels, or labels in the data) and " +
                std::string("a model dimension; got ") + std::to_string(num_labels) +
                " classes, dimension " + std::to_string(dimension));
  }
  features_.resize(3 * static_cast<std::size_t>(dimension));
  d_features_.resize(features_.size());
  logits_.resize(static_cast<std::size_t>(num_labels));
}

std::string SoftmaxLoss::description() const {
  return "SoftmaxLoss (classifier over (u, v, |u-v|) into " + std::to_string(classes_) +
         " classes, cross-entropy)";
}

std::vector<ParamTensor> SoftmaxLoss::parameters() const {
  const std::int64_t k = classes_, features = 3 * static_cast<std::int64_t>(dimension_);
  return ParamLayout::for_tensors({{"classifier.weight", {k, features}}, {"classifier.bias", {k}}})
      .tensors;
}

void SoftmaxLoss::init_parameters(float* values, Rng& rng) const {
  const int fan_in = 3 * dimension_;
  const std::size_t weights = static_cast<std::size_t>(classes_) * static_cast<std::size_t>(fan_in);
  init_linear(values, weights, fan_in, rng);
  init_linear(values + weights, static_cast<std::size_t>(classes_), fan_in, rng);
}

float SoftmaxLoss::forward_backward(float* d_embeddings, const float* embeddings,
                                    const float* labels, int B, int D) {
  // The bound parameters: the weight (classes, 3D), then the bias (classes).
  const float* weight = parameter_values();
  float* d_weight = parameter_grads();
  SIMTUNE_CHECK(weight != nullptr && D == dimension_);
  const std::size_t F = 3 * static_cast<std::size_t>(D);
  const std::size_t K = static_cast<std::size_t>(classes_);
  const float* bias = weight + K * F;
  float* d_bias = d_weight + K * F;
  const double inv_b = 1.0 / B;
  double total = 0.0;
  for (int i = 0; i < B; i++) {
    const float* u = embeddings + static_cast<std::size_t>(i) * D;
    const float* v = embeddings + static_cast<std::size_t>(B + i) * D;
    float* f = features_.data();
    for (int k = 0; k < D; k++) {
      f[k] = u[k];
      f[D + k] = v[k];
      f[2 * D + k] = std::fabs(u[k] - v[k]);
    }
    double max_logit = -INFINITY;
    for (std::size_t c = 0; c < K; c++) {
      const float* w = weight + c * F;
      double z = bias[c];
      for (std::size_t k = 0; k < F; k++) z += static_cast<double>(w[k]) * f[k];
      logits_[c] = z;
      max_logit = std::max(max_logit, z);
    }
    double sum = 0.0;
    for (std::size_t c = 0; c < K; c++) sum += std::exp(logits_[c] - max_logit);
    const auto target = static_cast<std::size_t>(labels[i]);
    SIMTUNE_CHECK(target < K);
    total += max_logit + std::log(sum) - logits_[target];
    // d loss / d logit_c = (softmax_c - [c == target]) / B.
    std::fill(d_features_.begin(), d_features_.end(), 0.0f);
    for (std::size_t c = 0; c < K; c++) {
      const double p = std::exp(logits_[c] - max_logit) / sum;
      const auto g = static_cast<float>((p - (c == target ? 1.0 : 0.0)) * inv_b);
      const float* w = weight + c * F;
      float* dw = d_weight + c * F;
      for (std::size_t k = 0; k < F; k++) {
        dw[k] += g * f[k];
        d_features_[k] += g * w[k];
      }
      d_bias[c] += g;
    }
    float* du = d_embeddings + static_cast<std::size_t>(i) * D;
    float* dv = d_embeddings + static_cast<std::size_t>(B + i) * D;
    for (int k = 0; k < D; k++) {
      // d|x|/dx is sign(x), 0 at 0, as torch's abs.
      const float diff = u[k] - v[k];
      const float sign = diff > 0.0f ? 1.0f : diff < 0.0f ? -1.0f : 0.0f;
      const float d_abs = d_features_[2 * D + k] * sign;
      du[k] += d_features_[k] + d_abs;
      dv[k] += d_features_[D + k] - d_abs;
    }
  }
  return static_cast<float>(total * inv_b);
}

}  // namespace simtune

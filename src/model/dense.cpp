#include "simtune/model/dense.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "simtune/model/kernels.h"

namespace simtune {
namespace {

float activate(Activation a, float x) noexcept {
  switch (a) {
    case Activation::Identity:
      return x;
    case Activation::Tanh:
      return std::tanh(x);
    case Activation::ReLU:
      return std::max(x, 0.0f);
    case Activation::GELU:
      return gelu(x);
    case Activation::Sigmoid:
      return 1.0f / (1.0f + std::exp(-x));
  }
  return x;
}

// d activation / d x at x.
float activation_grad(Activation a, float x) noexcept {
  switch (a) {
    case Activation::Identity:
      return 1.0f;
    case Activation::Tanh: {
      const float t = std::tanh(x);
      return 1.0f - t * t;
    }
    case Activation::ReLU:
      return x > 0.0f ? 1.0f : 0.0f;  // torch's choice at 0
    case Activation::GELU:
      return gelu_grad(x);
    case Activation::Sigmoid: {
      const float s = 1.0f / (1.0f + std::exp(-x));
      return s * (1.0f - s);
    }
  }
  return 1.0f;
}

}  // namespace

void dense_forward(float* y, float* pre, const float* x, const DenseWeights& w,
                   const DenseConfig& config, int B) noexcept {
  const int in = config.in_features, out = config.out_features;
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < B; b++) {
    for (int o = 0; o < out; o++) {
      const float* xr = x + static_cast<std::int64_t>(b) * in;
      const float* wr = w.weight + static_cast<std::int64_t>(o) * in;
      float sum = 0.0f;
      for (int i = 0; i < in; i++) sum += xr[i] * wr[i];
      if (w.bias != nullptr) sum += w.bias[o];
      const std::int64_t k = static_cast<std::int64_t>(b) * out + o;
      pre[k] = sum;
      y[k] = activate(config.activation, sum);
    }
  }
}

void dense_backward(float* dx, const DenseWeights& dw, float* dpre, const float* dy,
                    const float* pre, const float* x, const DenseWeights& w,
                    const DenseConfig& config, int B) noexcept {
  const std::int64_t n = static_cast<std::int64_t>(B) * config.out_features;
  for (std::int64_t k = 0; k < n; k++) dpre[k] = dy[k] * activation_grad(config.activation, pre[k]);
  linear_backward(dx, dw.weight, dw.bias, dpre, x, w.weight, B, config.in_features,
                  config.out_features, Into::write);
}

}  // namespace simtune

#include "train/cosine_similarity_loss.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace simtune {
namespace {

// torch.cosine_similarity's eps: the product of norms is clamped from below.
constexpr float kCosEps = 1e-8f;

struct Norms {
  float uu, vv, uv;
};

Norms dots(const float* u, const float* v, int D) {
  Norms n{0.0f, 0.0f, 0.0f};
  for (int i = 0; i < D; i++) {
    n.uu += u[i] * u[i];
    n.vv += v[i] * v[i];
    n.uv += u[i] * v[i];
  }
  return n;
}

// One row of pairwise_cosine_backward: du, dv (D) += g * d cos / du, d cos / dv.
void add_cosine_gradient(float* du, float* dv, float g, const float* u, const float* v, float cos,
                         int D) {
  const Norms n = dots(u, v, D);
  const float nu = std::sqrt(n.uu), nv = std::sqrt(n.vv);
  if (nu * nv <= kCosEps) {
    // Clamped denominator: cos = u.v / eps, linear in each side.
    for (int i = 0; i < D; i++) {
      du[i] += g * v[i] / kCosEps;
      dv[i] += g * u[i] / kCosEps;
    }
    return;
  }
  // d cos / du = v / (|u||v|) - cos * u / |u|^2, and symmetrically for v.
  const float inv = 1.0f / (nu * nv);
  for (int i = 0; i < D; i++) {
    du[i] += g * (v[i] * inv - cos * u[i] / n.uu);
    dv[i] += g * (u[i] * inv - cos * v[i] / n.vv);
  }
}

}  // namespace

void pairwise_cosine_forward(float* cos, const float* u, const float* v, int B, int D) noexcept {
  for (int b = 0; b < B; b++) {
    const std::int64_t row = static_cast<std::int64_t>(b) * D;
    const Norms n = dots(u + row, v + row, D);
    cos[b] = n.uv / std::max(std::sqrt(n.uu) * std::sqrt(n.vv), kCosEps);
  }
}

void pairwise_cosine_backward(float* du, float* dv, const float* dcos, const float* u,
                              const float* v, const float* cos, int B, int D) noexcept {
  for (int b = 0; b < B; b++) {
    const std::int64_t row = static_cast<std::int64_t>(b) * D;
    add_cosine_gradient(du + row, dv + row, dcos[b], u + row, v + row, cos[b], D);
  }
}

float cosine_similarity_loss_forward(float* cos, const float* u, const float* v,
                                     const float* labels, int B, int D) noexcept {
  pairwise_cosine_forward(cos, u, v, B, D);
  float loss = 0.0f;
  for (int b = 0; b < B; b++) {
    const float diff = cos[b] - labels[b];
    loss += diff * diff;
  }
  return loss / static_cast<float>(B);
}

void cosine_similarity_loss_backward(float* du, float* dv, const float* u, const float* v,
                                     const float* cos, const float* labels, int B, int D,
                                     float dloss) noexcept {
  for (int b = 0; b < B; b++) {
    const std::int64_t row = static_cast<std::int64_t>(b) * D;
    const float dcos = dloss * 2.0f * (cos[b] - labels[b]) / static_cast<float>(B);
    add_cosine_gradient(du + row, dv + row, dcos, u + row, v + row, cos[b], D);
  }
}

std::string CosineSimilarityLoss::description() const {
  return "CosineSimilarityLoss (MSE of cosine similarity and label)";
}

float CosineSimilarityLoss::forward_backward(float* d_embeddings, const float* embeddings,
                                             const float* labels, int B, int D) {
  const std::size_t half = static_cast<std::size_t>(B) * D;
  cos_.resize(static_cast<std::size_t>(B));
  const float loss =
      cosine_similarity_loss_forward(cos_.data(), embeddings, embeddings + half, labels, B, D);
  cosine_similarity_loss_backward(d_embeddings, d_embeddings + half, embeddings, embeddings + half,
                                  cos_.data(), labels, B, D);
  return loss;
}

}  // namespace simtune

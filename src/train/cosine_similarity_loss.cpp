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

}  // namespace

float cosine_similarity_loss_forward(float* cos, const float* u, const float* v,
                                     const float* labels, int B, int D) noexcept {
  float loss = 0.0f;
  for (int b = 0; b < B; b++) {
    const std::int64_t row = static_cast<std::int64_t>(b) * D;
    const Norms n = dots(u + row, v + row, D);
    cos[b] = n.uv / std::max(std::sqrt(n.uu) * std::sqrt(n.vv), kCosEps);
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
    const float* ur = u + row;
    const float* vr = v + row;
    const Norms n = dots(ur, vr, D);
    const float nu = std::sqrt(n.uu), nv = std::sqrt(n.vv);
    const float dcos = dloss * 2.0f * (cos[b] - labels[b]) / static_cast<float>(B);
    if (nu * nv <= kCosEps) {
      // Clamped denominator: cos = u.v / eps, linear in each side.
      for (int i = 0; i < D; i++) {
        du[row + i] += dcos * vr[i] / kCosEps;
        dv[row + i] += dcos * ur[i] / kCosEps;
      }
      continue;
    }
    // d cos / du = v / (|u||v|) - cos * u / |u|^2, and symmetrically for v.
    const float inv = 1.0f / (nu * nv);
    for (int i = 0; i < D; i++) {
      du[row + i] += dcos * (vr[i] * inv - cos[b] * ur[i] / n.uu);
      dv[row + i] += dcos * (ur[i] * inv - cos[b] * vr[i] / n.vv);
    }
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

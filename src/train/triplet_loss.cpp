#include "train/triplet_loss.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>

namespace simtune {
namespace {

// F.pairwise_distance's eps, added to every difference before the norm.
constexpr float kDistanceEps = 1e-6f;

}  // namespace

void pairwise_distance_forward(float* dist, const float* x, const float* y, int B, int D) noexcept {
  for (int b = 0; b < B; b++) {
    const std::int64_t row = static_cast<std::int64_t>(b) * D;
    float ss = 0.0f;
    for (int k = 0; k < D; k++) {
      const float d = x[row + k] - y[row + k] + kDistanceEps;
      ss += d * d;
    }
    dist[b] = std::sqrt(ss);
  }
}

void pairwise_distance_backward(float* dx, float* dy, const float* ddist, const float* dist,
                                const float* x, const float* y, int B, int D) noexcept {
  for (int b = 0; b < B; b++) {
    if (ddist[b] == 0.0f || dist[b] == 0.0f) continue;  // torch's norm has gradient 0 at 0
    const std::int64_t row = static_cast<std::int64_t>(b) * D;
    const float g = ddist[b] / dist[b];
    for (int k = 0; k < D; k++) {
      const float d = g * (x[row + k] - y[row + k] + kDistanceEps);
      dx[row + k] += d;
      dy[row + k] -= d;
    }
  }
}

float triplet_forward(const float* pos, const float* neg, int B, float margin) noexcept {
  float loss = 0.0f;
  for (int b = 0; b < B; b++) loss += std::max(pos[b] - neg[b] + margin, 0.0f);
  return loss / static_cast<float>(B);
}

void triplet_backward(float* dpos, float* dneg, const float* pos, const float* neg, int B,
                      float margin, float dloss) noexcept {
  const float w = dloss / static_cast<float>(B);
  for (int b = 0; b < B; b++) {
    if (!(pos[b] - neg[b] + margin > 0.0f)) continue;
    dpos[b] += w;
    dneg[b] -= w;
  }
}

std::string TripletLoss::description() const {
  char margin[32];
  std::snprintf(margin, sizeof margin, "%g", margin_);
  return std::string("TripletLoss (euclidean distance, margin ") + margin + ")";
}

float TripletLoss::forward_backward(float* d_embeddings, const float* embeddings,
                                    const float* labels, int B, int D) {
  (void)labels;  // the triplet is its own label
  const std::size_t n = static_cast<std::size_t>(B) * D;
  const float* a = embeddings;
  const float* p = embeddings + n;
  const float* q = embeddings + 2 * n;
  pos_.resize(static_cast<std::size_t>(B));
  neg_.resize(static_cast<std::size_t>(B));
  pairwise_distance_forward(pos_.data(), a, p, B, D);
  pairwise_distance_forward(neg_.data(), a, q, B, D);
  const float loss = triplet_forward(pos_.data(), neg_.data(), B, margin_);
  dpos_.assign(static_cast<std::size_t>(B), 0.0f);
  dneg_.assign(static_cast<std::size_t>(B), 0.0f);
  triplet_backward(dpos_.data(), dneg_.data(), pos_.data(), neg_.data(), B, margin_);
  pairwise_distance_backward(d_embeddings, d_embeddings + n, dpos_.data(), pos_.data(), a, p, B, D);
  pairwise_distance_backward(d_embeddings, d_embeddings + 2 * n, dneg_.data(), neg_.data(), a, q, B,
                             D);
  return loss;
}

}  // namespace simtune

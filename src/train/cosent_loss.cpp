#include "train/cosent_loss.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "simtune/core/error.h"
#include "simtune/model/pooling.h"

namespace simtune {
namespace {

// torch.logsumexp's shift: the largest term, here over 0 (the prepended zero) and every ordered
// pair's score difference.
float largest_term(const float* scores, const float* labels, int B) {
  float m = 0.0f;
  for (int i = 0; i < B; i++) {
    for (int j = 0; j < B; j++) {
      if (labels[i] < labels[j]) m = std::max(m, scores[i] - scores[j]);
    }
  }
  return m;
}

}  // namespace

void angle_similarity_forward(float* sim, const float* u, const float* v, int B, int D) noexcept {
  const int H = D / 2;
  for (int b = 0; b < B; b++) {
    const float* a = u + static_cast<std::int64_t>(b) * D;
    const float* c = v + static_cast<std::int64_t>(b) * D;
    float s = 0.0f, uu = 0.0f, vv = 0.0f;
    for (int k = 0; k < H; k++) {
      // u = (a, b) = (a[k], a[H + k]), v = (c, d) = (c[k], c[H + k]).
      s += a[k] * c[k] + a[H + k] * c[H + k] + a[H + k] * c[k] - a[k] * c[H + k];
      uu += a[k] * a[k] + a[H + k] * a[H + k];
      vv += c[k] * c[k] + c[H + k] * c[H + k];
    }
    sim[b] = std::abs(s) / (std::sqrt(uu) * std::sqrt(vv));
  }
}

void angle_similarity_backward(float* du, float* dv, const float* dsim, const float* u,
                               const float* v, int B, int D) noexcept {
  const int H = D / 2;
  for (int b = 0; b < B; b++) {
    const std::int64_t row = static_cast<std::int64_t>(b) * D;
    const float* a = u + row;
    const float* c = v + row;
    float s = 0.0f, uu = 0.0f, vv = 0.0f;
    for (int k = 0; k < H; k++) {
      s += a[k] * c[k] + a[H + k] * c[H + k] + a[H + k] * c[k] - a[k] * c[H + k];
      uu += a[k] * a[k] + a[H + k] * a[H + k];
      vv += c[k] * c[k] + c[H + k] * c[H + k];
    }
    // f = s / (|u||v|), sim = |f|: dsim/du = sign(s) (ds/du / (|u||v|) - f u / |u|^2).
    const float inv = 1.0f / (std::sqrt(uu) * std::sqrt(vv));
    const float f = s * inv;
    const float g = (s > 0.0f ? 1.0f : s < 0.0f ? -1.0f : 0.0f) * dsim[b];
    for (int k = 0; k < H; k++) {
      du[row + k] += g * ((c[k] - c[H + k]) * inv - f * a[k] / uu);
      du[row + H + k] += g * ((c[H + k] + c[k]) * inv - f * a[H + k] / uu);
      dv[row + k] += g * ((a[k] + a[H + k]) * inv - f * c[k] / vv);
      dv[row + H + k] += g * ((a[H + k] - a[k]) * inv - f * c[H + k] / vv);
    }
  }
}

float cosent_forward(const float* scores, const float* labels, int B) noexcept {
  const float m = largest_term(scores, labels, B);
  float sum = std::exp(-m);
  for (int i = 0; i < B; i++) {
    for (int j = 0; j < B; j++) {
      if (labels[i] < labels[j]) sum += std::exp(scores[i] - scores[j] - m);
    }
  }
  return m + std::log(sum);
}

void cosent_backward(float* dscores, const float* scores, const float* labels, float loss, int B,
                     float dloss) noexcept {
  // Each term's softmax weight exp(s_i - s_j - loss) pushes s_i up and s_j down.
  for (int i = 0; i < B; i++) {
    for (int j = 0; j < B; j++) {
      if (!(labels[i] < labels[j])) continue;
      const float w = dloss * std::exp(scores[i] - scores[j] - loss);
      dscores[i] += w;
      dscores[j] -= w;
    }
  }
}

std::string CoSENTLoss::description() const {
  return std::string(angle_ ? "AnglELoss (CoSENT over the angle similarity"
                            : "CoSENTLoss (pairwise ranking of cosine similarities") +
         ", scale " + std::to_string(static_cast<int>(scale_)) + ")";
}

void CoSENTLoss::check_dimension(int dimension) const {
  if (angle_ && dimension % 2 != 0) {
    throw Error("AnglELoss needs an even embedding dimension, not " + std::to_string(dimension) +
                ": it splits each embedding into real and imaginary halves, and "
                "sentence-transformers' pairwise_angle_sim fails on uneven ones");
  }
}

float CoSENTLoss::forward_backward(float* d_embeddings, const float* embeddings,
                                   const float* labels, int B, int D) {
  const std::size_t half = static_cast<std::size_t>(B) * D;
  sim_.resize(static_cast<std::size_t>(B));
  scores_.resize(static_cast<std::size_t>(B));
  if (angle_) {
    angle_similarity_forward(sim_.data(), embeddings, embeddings + half, B, D);
  } else {
    // The library's pairwise_cos_sim normalises both sides, then takes the row dot products.
    normed_.assign(embeddings, embeddings + 2 * half);
    normalize_forward(normed_.data(), 2 * B, D);
    for (int b = 0; b < B; b++) {
      float s = 0.0f;
      const float* u = normed_.data() + static_cast<std::size_t>(b) * D;
      for (int k = 0; k < D; k++) s += u[k] * u[half + k];
      sim_[b] = s;
    }
  }
  for (int b = 0; b < B; b++) scores_[b] = scale_ * sim_[b];
  const float loss = cosent_forward(scores_.data(), labels, B);
  d_scores_.assign(static_cast<std::size_t>(B), 0.0f);
  cosent_backward(d_scores_.data(), scores_.data(), labels, loss, B);
  for (int b = 0; b < B; b++) d_scores_[b] *= scale_;  // now d/dsim
  if (angle_) {
    angle_similarity_backward(d_embeddings, d_embeddings + half, d_scores_.data(), embeddings,
                              embeddings + half, B, D);
    return loss;
  }
  d_normed_.assign(2 * half, 0.0f);
  for (int b = 0; b < B; b++) {
    const std::size_t row = static_cast<std::size_t>(b) * D;
    for (int k = 0; k < D; k++) {
      d_normed_[row + k] += d_scores_[b] * normed_[half + row + k];
      d_normed_[half + row + k] += d_scores_[b] * normed_[row + k];
    }
  }
  normalize_backward(d_embeddings, d_normed_.data(), embeddings, 2 * B, D);
  return loss;
}

}  // namespace simtune

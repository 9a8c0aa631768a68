#include "train/contrastive_loss.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "train/cosine_similarity_loss.h"

namespace simtune {
namespace {

// OnlineContrastiveLoss's bars: negatives count below `negative_bar`, positives above
// `positive_bar`. Torch's mean of an empty set is NaN, which no distance passes.
struct Bars {
  float negative_bar, positive_bar;
};

Bars online_bars(const float* dist, const float* labels, int B) {
  constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
  int positives = 0, negatives = 0;
  float pos_max = -std::numeric_limits<float>::infinity(), pos_sum = 0.0f;
  float neg_min = std::numeric_limits<float>::infinity(), neg_sum = 0.0f;
  for (int b = 0; b < B; b++) {
    if (labels[b] == 1.0f) {
      positives++;
      pos_max = std::max(pos_max, dist[b]);
      pos_sum += dist[b];
    } else if (labels[b] == 0.0f) {
      negatives++;
      neg_min = std::min(neg_min, dist[b]);
      neg_sum += dist[b];
    }
  }
  const float neg_mean = negatives > 0 ? neg_sum / static_cast<float>(negatives) : kNaN;
  const float pos_mean = positives > 0 ? pos_sum / static_cast<float>(positives) : kNaN;
  return {positives > 1 ? pos_max : neg_mean, negatives > 1 ? neg_min : pos_mean};
}

}  // namespace

float contrastive_forward(const float* dist, const float* labels, int B, float margin) noexcept {
  float loss = 0.0f;
  for (int b = 0; b < B; b++) {
    const float hinge = std::max(margin - dist[b], 0.0f);
    loss += 0.5f * (labels[b] * dist[b] * dist[b] + (1.0f - labels[b]) * hinge * hinge);
  }
  return loss / static_cast<float>(B);
}

void contrastive_backward(float* ddist, const float* dist, const float* labels, int B, float margin,
                          float dloss) noexcept {
  const float w = dloss / static_cast<float>(B);
  for (int b = 0; b < B; b++) {
    const float hinge = std::max(margin - dist[b], 0.0f);
    ddist[b] += w * (labels[b] * dist[b] - (1.0f - labels[b]) * hinge);
  }
}

float online_contrastive_forward(const float* dist, const float* labels, int B,
                                 float margin) noexcept {
  const Bars bars = online_bars(dist, labels, B);
  float positive = 0.0f, negative = 0.0f;
  for (int b = 0; b < B; b++) {
    if (labels[b] == 1.0f && dist[b] > bars.positive_bar) positive += dist[b] * dist[b];
    if (labels[b] == 0.0f && dist[b] < bars.negative_bar) {
      const float hinge = std::max(margin - dist[b], 0.0f);
      negative += hinge * hinge;
    }
  }
  return positive + negative;
}

void online_contrastive_backward(float* ddist, const float* dist, const float* labels, int B,
                                 float margin, float dloss) noexcept {
  const Bars bars = online_bars(dist, labels, B);
  for (int b = 0; b < B; b++) {
    if (labels[b] == 1.0f && dist[b] > bars.positive_bar) ddist[b] += dloss * 2.0f * dist[b];
    if (labels[b] == 0.0f && dist[b] < bars.negative_bar) {
      ddist[b] -= dloss * 2.0f * std::max(margin - dist[b], 0.0f);
    }
  }
}

std::string ContrastiveLoss::description() const {
  char margin[32];
  std::snprintf(margin, sizeof margin, "%g", margin_);
  return std::string(online_ ? "OnlineContrastiveLoss" : "ContrastiveLoss") +
         " (cosine distance, margin " + margin + ")";
}

float ContrastiveLoss::forward_backward(float* d_embeddings, const float* embeddings,
                                        const float* labels, int B, int D) {
  const std::size_t half = static_cast<std::size_t>(B) * D;
  cos_.resize(static_cast<std::size_t>(B));
  dist_.resize(static_cast<std::size_t>(B));
  pairwise_cosine_forward(cos_.data(), embeddings, embeddings + half, B, D);
  for (int b = 0; b < B; b++) dist_[b] = 1.0f - cos_[b];
  ddist_.assign(static_cast<std::size_t>(B), 0.0f);
  float loss;
  if (online_) {
    loss = online_contrastive_forward(dist_.data(), labels, B, margin_);
    online_contrastive_backward(ddist_.data(), dist_.data(), labels, B, margin_);
  } else {
    loss = contrastive_forward(dist_.data(), labels, B, margin_);
    contrastive_backward(ddist_.data(), dist_.data(), labels, B, margin_);
  }
  for (float& g : ddist_) g = -g;  // d = 1 - cos
  pairwise_cosine_backward(d_embeddings, d_embeddings + half, ddist_.data(), embeddings,
                           embeddings + half, cos_.data(), B, D);
  return loss;
}

}  // namespace simtune

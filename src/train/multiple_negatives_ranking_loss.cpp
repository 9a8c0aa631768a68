#include "train/multiple_negatives_ranking_loss.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "simtune/model/pooling.h"

namespace simtune {
namespace {

float dot(const float* x, const float* y, int D) {
  float s = 0.0f;
  for (int k = 0; k < D; k++) s += x[k] * y[k];
  return s;
}

// Softmax of n values read with `stride` into `out` (same stride); returns log(sum(exp)) + max,
// the log-partition the cross-entropy subtracts from the target's score.
float softmax(float* out, const float* x, int n, std::int64_t stride) {
  float m = x[0];
  for (int j = 1; j < n; j++) m = std::max(m, x[j * stride]);
  float sum = 0.0f;
  for (int j = 0; j < n; j++) {
    out[j * stride] = std::exp(x[j * stride] - m);
    sum += out[j * stride];
  }
  for (int j = 0; j < n; j++) out[j * stride] /= sum;
  return m + std::log(sum);
}

}  // namespace

void similarity_matrix_forward(float* scores, const float* a, const float* c, int B, int N, int D,
                               float scale) noexcept {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < B; i++) {
    for (int j = 0; j < N; j++) {
      scores[static_cast<std::int64_t>(i) * N + j] =
          scale *
          dot(a + static_cast<std::int64_t>(i) * D, c + static_cast<std::int64_t>(j) * D, D);
    }
  }
}

void similarity_matrix_backward(float* da, float* dc, const float* dscores, const float* a,
                                const float* c, int B, int N, int D, float scale) noexcept {
  // da = scale * dscores c and dc = scale * dscores^T a, each row owned by one thread.
#pragma omp parallel for schedule(static)
  for (int i = 0; i < B; i++) {
    float* out = da + static_cast<std::int64_t>(i) * D;
    for (int j = 0; j < N; j++) {
      const float g = scale * dscores[static_cast<std::int64_t>(i) * N + j];
      const float* cj = c + static_cast<std::int64_t>(j) * D;
      for (int k = 0; k < D; k++) out[k] += g * cj[k];
    }
  }
#pragma omp parallel for schedule(static)
  for (int j = 0; j < N; j++) {
    float* out = dc + static_cast<std::int64_t>(j) * D;
    for (int i = 0; i < B; i++) {
      const float g = scale * dscores[static_cast<std::int64_t>(i) * N + j];
      const float* ai = a + static_cast<std::int64_t>(i) * D;
      for (int k = 0; k < D; k++) out[k] += g * ai[k];
    }
  }
}

float ranking_cross_entropy_forward(float* probs, float* probs_t, const float* scores, int B, int N,
                                    bool symmetric) noexcept {
  float rows = 0.0f;
  for (int i = 0; i < B; i++) {
    const std::int64_t r = static_cast<std::int64_t>(i) * N;
    rows += softmax(probs + r, scores + r, N, 1) - scores[r + i];
  }
  rows /= static_cast<float>(B);
  if (!symmetric) return rows;
  // Column j of the anchor-positive block, softmaxed over the anchors in column j of probs_t,
  // so the backward reads both matrices by (i, j).
  float cols = 0.0f;
  for (int j = 0; j < B; j++) {
    for (int i = 0; i < B; i++)
      probs_t[static_cast<std::int64_t>(i) * B + j] = scores[static_cast<std::int64_t>(i) * N + j];
    cols += softmax(probs_t + j, probs_t + j, B, B) - scores[static_cast<std::int64_t>(j) * N + j];
  }
  cols /= static_cast<float>(B);
  return (rows + cols) / 2.0f;
}

void ranking_cross_entropy_backward(float* dscores, const float* probs, const float* probs_t, int B,
                                    int N, bool symmetric, float dloss) noexcept {
  // Cross-entropy's gradient: softmax minus the one-hot target, over the mean's B.
  const float w = dloss / static_cast<float>(B) / (symmetric ? 2.0f : 1.0f);
  for (int i = 0; i < B; i++) {
    const std::int64_t r = static_cast<std::int64_t>(i) * N;
    for (int j = 0; j < N; j++) dscores[r + j] += w * probs[r + j];
    dscores[r + i] -= w;
    if (!symmetric) continue;
    for (int j = 0; j < B; j++) dscores[r + j] += w * probs_t[static_cast<std::int64_t>(i) * B + j];
    dscores[r + i] -= w;
  }
}

std::string MultipleNegativesRankingLoss::description() const {
  return name_ + " (scale " + std::to_string(static_cast<int>(scale_)) +
         ", cosine, in-batch negatives" +
         (columns_ > 2 ? ", " + std::to_string(columns_ - 2) + " hard-negative columns" : "") + ")";
}

float MultipleNegativesRankingLoss::forward_backward(float* d_embeddings, const float* embeddings,
                                                     const float* labels, int B, int D) {
  (void)labels;  // in-batch negatives: the target is the example's own positive
  const std::size_t rows = static_cast<std::size_t>(columns_) * B;
  const int N = (columns_ - 1) * B;
  const std::size_t cells = static_cast<std::size_t>(B) * N;
  // The library's cos_sim normalises both sides, then multiplies.
  normed_.assign(embeddings, embeddings + rows * D);
  normalize_forward(normed_.data(), static_cast<int>(rows), D);
  const float* a = normed_.data();
  const float* c = normed_.data() + static_cast<std::size_t>(B) * D;
  scores_.resize(cells);
  probs_.resize(cells);
  probs_t_.resize(static_cast<std::size_t>(B) * B);
  similarity_matrix_forward(scores_.data(), a, c, B, N, D, scale_);
  const float loss = ranking_cross_entropy_forward(probs_.data(), probs_t_.data(), scores_.data(),
                                                   B, N, symmetric_);
  d_scores_.assign(cells, 0.0f);
  ranking_cross_entropy_backward(d_scores_.data(), probs_.data(), probs_t_.data(), B, N,
                                 symmetric_);
  d_normed_.assign(rows * D, 0.0f);
  similarity_matrix_backward(d_normed_.data(), d_normed_.data() + static_cast<std::size_t>(B) * D,
                             d_scores_.data(), a, c, B, N, D, scale_);
  normalize_backward(d_embeddings, d_normed_.data(), embeddings, static_cast<int>(rows), D);
  return loss;
}

}  // namespace simtune

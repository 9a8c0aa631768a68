// Forward kernels against naive twins written for clarity (double accumulation, padded layout).
#include <gtest/gtest.h>

#include "test_random.h"

#include <cmath>
#include <random>
#include <vector>

#include "simtune/model/kernels.h"
#include "simtune/model/pooling.h"

namespace simtune {
namespace {

using testing::randn;

void expect_close(const std::vector<float>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  double max_diff = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < got.size(); i++) {
    const double d = std::abs(got[i] - want[i]);
    if (d > max_diff) max_diff = d, at = i;
  }
  EXPECT_LE(max_diff, tol) << "max |diff| at element " << at << ": got " << got[at] << " want "
                           << want[at];
}

TEST(Kernels, GeluMatchesErfDefinition) {
  double max_diff = 0;
  for (double x = -10; x <= 10; x += 1e-3) {
    const double want = 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    max_diff = std::max(max_diff, std::abs(gelu(static_cast<float>(x)) - want));
  }
  EXPECT_LE(max_diff, 2e-6);
}

TEST(Kernels, LayerNormMatchesNaive) {
  const int N = 7, C = 96;
  auto x = randn(N * C, 1, 3.0f), w = randn(C, 2), b = randn(C, 3);
  std::vector<float> out(N * C), mean(N), rstd(N);
  layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C,
                    1e-12f);
  std::vector<double> want(N * C);
  for (int t = 0; t < N; t++) {
    double m = 0, v = 0;
    for (int i = 0; i < C; i++) m += x[t * C + i];
    m /= C;
    for (int i = 0; i < C; i++) v += (x[t * C + i] - m) * (x[t * C + i] - m);
    const double s = 1 / std::sqrt(v / C + 1e-12);
    for (int i = 0; i < C; i++) want[t * C + i] = (x[t * C + i] - m) * s * w[i] + b[i];
  }
  expect_close(out, want, 1e-5);
}

// Attention of packed sequences against a padded batch with an additive mask, the way
// Hugging Face computes it.
TEST(Kernels, PackedAttentionMatchesPaddedMaskedAttention) {
  const int NH = 3, HS = 8, C = NH * HS;
  const std::vector<std::int32_t> offsets = {0, 5, 6, 13};
  const int B = 3, N = 13, Lmax = 7;
  auto qkv = randn(static_cast<std::size_t>(N) * 3 * C, 4);
  std::vector<std::int64_t> poff(B + 1);
  const SeqSpans spans{offsets.data(), B};
  std::vector<float> probs(attention_probs_offsets(poff.data(), spans, NH));
  std::vector<float> ctx(N * C);
  attention_forward(ctx.data(), probs.data(), qkv.data(), nullptr, spans, poff.data(), NH, C);

  std::vector<double> want(N * C);
  for (int b = 0; b < B; b++) {
    const int s = offsets[b], L = offsets[b + 1] - s;
    for (int h = 0; h < NH; h++) {
      for (int i = 0; i < L; i++) {
        std::vector<double> sc(Lmax);
        double mx = -1e300;
        for (int j = 0; j < Lmax; j++) {
          double dot = 0;
          if (j < L) {
            for (int d = 0; d < HS; d++) {
              dot +=
                  double(qkv[(s + i) * 3 * C + h * HS + d]) * qkv[(s + j) * 3 * C + C + h * HS + d];
            }
          }
          sc[j] = dot / std::sqrt(double(HS)) + (j < L ? 0.0 : -3.4e38);
          mx = std::max(mx, sc[j]);
        }
        double sum = 0;
        for (auto& v : sc) sum += (v = std::exp(v - mx));
        for (int d = 0; d < HS; d++) {
          double acc = 0;
          for (int j = 0; j < L; j++)
            acc += sc[j] / sum * qkv[(s + j) * 3 * C + 2 * C + h * HS + d];
          want[(s + i) * C + h * HS + d] = acc;
        }
      }
    }
  }
  expect_close(ctx, want, 1e-5);
}

TEST(Pooling, EveryModeMatchesNaive) {
  const int C = 5;
  const std::vector<std::int32_t> offsets = {0, 3, 4, 8};
  const int B = 3;
  auto h = randn(8 * C, 5);
  PoolingConfig cfg;
  cfg.word_embedding_dimension = C;
  cfg.cls_token = cfg.max_tokens = cfg.mean_tokens = cfg.mean_sqrt_len_tokens = true;
  cfg.weightedmean_tokens = cfg.lasttoken = true;
  const int D = cfg.output_dimension();
  ASSERT_EQ(D, 6 * C);
  std::vector<float> out(B * D);
  pooling_forward(out.data(), h.data(), {offsets.data(), B}, C, cfg);
  std::vector<double> want;
  for (int b = 0; b < B; b++) {
    const int s = offsets[b], L = offsets[b + 1] - s;
    auto at = [&](int t, int i) { return double(h[(s + t) * C + i]); };
    for (int i = 0; i < C; i++) want.push_back(at(0, i));
    for (int i = 0; i < C; i++) {
      double m = -1e300;
      for (int t = 0; t < L; t++) m = std::max(m, at(t, i));
      want.push_back(m);
    }
    std::vector<double> sum(C, 0), wsum(C, 0);
    for (int t = 0; t < L; t++) {
      for (int i = 0; i < C; i++) sum[i] += at(t, i), wsum[i] += (t + 1) * at(t, i);
    }
    for (int i = 0; i < C; i++) want.push_back(sum[i] / L);
    for (int i = 0; i < C; i++) want.push_back(sum[i] / std::sqrt(double(L)));
    for (int i = 0; i < C; i++) want.push_back(wsum[i] / (L * (L + 1) / 2.0));
    for (int i = 0; i < C; i++) want.push_back(at(L - 1, i));
  }
  expect_close(out, want, 1e-6);
}

TEST(Pooling, NormalizeGivesUnitRows) {
  auto x = randn(4 * 9, 6);
  normalize_forward(x.data(), 4, 9);
  for (int b = 0; b < 4; b++) {
    double n = 0;
    for (int i = 0; i < 9; i++) n += double(x[b * 9 + i]) * x[b * 9 + i];
    EXPECT_NEAR(std::sqrt(n), 1.0, 1e-6);
  }
}

}  // namespace
}  // namespace simtune

// Forward kernels against naive twins written for clarity (double accumulation, padded layout).
#include <gtest/gtest.h>

#include "test_random.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "simtune/core/matmul.h"
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

TEST(Kernels, LinearMatchesNaive) {
  const int N = 7, C = 40, OC = 20;
  auto x = randn(N * C, 11), w = randn(OC * C, 12), b = randn(OC, 13);
  const PackedMatrix packed(w.data(), OC, C);
  for (const float* bias :
       {static_cast<const float*>(nullptr), static_cast<const float*>(b.data())}) {
    std::vector<double> want(N * OC);
    for (int t = 0; t < N; t++) {
      for (int o = 0; o < OC; o++) {
        double acc = bias != nullptr ? bias[o] : 0.0;
        for (int i = 0; i < C; i++) acc += double(x[t * C + i]) * w[o * C + i];
        want[t * OC + o] = acc;
      }
    }
    std::vector<float> out(N * OC);
    linear_forward(out.data(), x.data(), packed, bias, N);
    expect_close(out, want, 1e-4);
  }
}

TEST(Kernels, LinearBackwardMatchesNaive) {
  const int N = 6, C = 9, OC = 5;
  auto x = randn(N * C, 14), w = randn(OC * C, 15), dy = randn(N * OC, 16);
  // dinp written over whatever it holds.
  std::vector<float> dx = randn(N * C, 13), dw(OC * C, 0.0f), db(OC, 0.0f);
  linear_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), N, C, OC,
                  Into::write);
  std::vector<double> want_dx(N * C, 0.0), want_dw(OC * C, 0.0), want_db(OC, 0.0);
  for (int t = 0; t < N; t++) {
    for (int o = 0; o < OC; o++) {
      const double d = dy[t * OC + o];
      want_db[o] += d;
      for (int i = 0; i < C; i++) {
        want_dx[t * C + i] += d * w[o * C + i];
        want_dw[o * C + i] += d * x[t * C + i];
      }
    }
  }
  expect_close(dx, want_dx, 1e-5);
  expect_close(dw, want_dw, 1e-5);
  expect_close(db, want_db, 1e-5);
}

// Forward and backward of x = dropout(z + bias) + residual, out = LayerNorm(x), in double.
TEST(Kernels, BiasResidualLayerNormMatchesNaive) {
  const int N = 5, C = 48;
  auto z = randn(N * C, 17, 2.0f), r = randn(N * C, 18), b = randn(C, 19), w = randn(C, 20),
       lb = randn(C, 21), dy = randn(N * C, 22);
  std::vector<float> mask(N * C);
  std::mt19937 gen(23);
  for (auto& m : mask) m = gen() % 5 == 0 ? 0.0f : 1.0f / 0.8f;
  std::vector<float> x = z, out(N * C), mean(N), rstd(N);
  bias_residual_layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), b.data(),
                                  mask.data(), r.data(), w.data(), lb.data(), N, C, 1e-12f);
  std::vector<float> dr(N * C, 0.0f), dz(N * C), db(C, 0.0f), dw(C, 0.0f), dlb(C, 0.0f);
  bias_residual_layernorm_backward(dr.data(), dz.data(), db.data(), dw.data(), dlb.data(),
                                   dy.data(), x.data(), mean.data(), rstd.data(), mask.data(),
                                   w.data(), N, C);

  std::vector<double> want_out(N * C), want_dr(N * C), want_dz(N * C);
  std::vector<double> want_db(C, 0.0), want_dw(C, 0.0), want_dlb(C, 0.0);
  for (int t = 0; t < N; t++) {
    std::vector<double> xs(C), n(C);
    double m = 0, v = 0;
    for (int i = 0; i < C; i++) {
      xs[i] = (double(z[t * C + i]) + b[i]) * mask[t * C + i] + r[t * C + i];
      m += xs[i] / C;
    }
    for (int i = 0; i < C; i++) v += (xs[i] - m) * (xs[i] - m) / C;
    const double s = 1 / std::sqrt(v + 1e-12);
    // dx = s (dn - mean(dn) - n mean(dn n)) with dn = dy * w, the LayerNorm input gradient.
    double mean_dn = 0, mean_dnn = 0;
    for (int i = 0; i < C; i++) {
      n[i] = (xs[i] - m) * s;
      want_out[t * C + i] = n[i] * w[i] + lb[i];
      mean_dn += double(dy[t * C + i]) * w[i] / C;
      mean_dnn += double(dy[t * C + i]) * w[i] * n[i] / C;
    }
    for (int i = 0; i < C; i++) {
      const double dx = s * (double(dy[t * C + i]) * w[i] - mean_dn - n[i] * mean_dnn);
      want_dr[t * C + i] = dx;
      want_dz[t * C + i] = dx * mask[t * C + i];
      want_db[i] += dx * mask[t * C + i];
      want_dw[i] += dy[t * C + i] * n[i];
      want_dlb[i] += dy[t * C + i];
    }
  }
  expect_close(out, want_out, 1e-4);
  expect_close(dr, want_dr, 1e-4);
  expect_close(dz, want_dz, 1e-4);
  expect_close(db, want_db, 1e-4);
  expect_close(dw, want_dw, 1e-4);
  expect_close(dlb, want_dlb, 1e-4);
}

// Forward and backward of out = gelu(inp . w^T + bias) with glibc's erf, in double. N spans
// more than one row block and OC more than one column tile, with a partial tile, so the
// epilogue meets every block shape.
TEST(Kernels, LinearGeluMatchesNaive) {
  const int N = 101, C = 24, OC = 70;
  auto inp = randn(N * C, 24), w = randn(OC * C, 27, 0.5f), b = randn(OC, 25),
       dy = randn(N * OC, 26);
  const PackedMatrix packed(w.data(), OC, C);
  std::vector<float> x(N * OC), out(N * OC), dz(N * OC), db(OC, 0.0f);
  linear_gelu_forward(out.data(), x.data(), inp.data(), packed, b.data(), N);
  bias_gelu_backward(dz.data(), db.data(), dy.data(), x.data(), N, OC);
  std::vector<double> want_x(N * OC), want_out(N * OC), want_dz(N * OC), want_db(OC, 0.0);
  for (int t = 0; t < N; t++) {
    for (int o = 0; o < OC; o++) {
      double u = b[o];
      for (int c = 0; c < C; c++) u += double(inp[t * C + c]) * w[o * C + c];
      const double cdf = 0.5 * (1 + std::erf(u / std::sqrt(2.0)));
      const double pdf = std::exp(-0.5 * u * u) / std::sqrt(2 * M_PI);
      want_x[t * OC + o] = u;
      want_out[t * OC + o] = u * cdf;
      want_dz[t * OC + o] = dy[t * OC + o] * (cdf + u * pdf);
      want_db[o] += want_dz[t * OC + o];
    }
  }
  expect_close(x, want_x, 2e-5);
  expect_close(out, want_out, 2e-5);
  expect_close(dz, want_dz, 2e-5);
  expect_close(db, want_db, 2e-4);
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

void dropout_mask(std::vector<float>& mask, float p, std::uint64_t key) {
  const DropoutDraw draw{mask.data(), static_cast<std::int64_t>(mask.size()), p, key};
  dropout_masks(&draw, 1);
}

TEST(Kernels, DropoutMaskHasItsRateAndIgnoresTheThreadCount) {
  const std::int64_t n = 1 << 20;
  const float p = 0.1f;
  std::vector<float> mask(n), again(n), other(n);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  dropout_mask(mask, p, 42);
  omp_set_num_threads(std::max(2, threads));
  dropout_mask(again, p, 42);
  omp_set_num_threads(threads);
  EXPECT_EQ(mask, again) << "the mask depends on the thread count";
  dropout_mask(other, p, 43);
  EXPECT_NE(mask, other) << "another key gives the same mask";

  std::int64_t dropped = 0, run = 0, longest_run = 0;
  for (float m : mask) {
    ASSERT_TRUE(m == 0.0f || m == 1.0f / (1.0f - p)) << m;
    dropped += m == 0.0f;
    run = m == 0.0f ? run + 1 : 0;
    longest_run = std::max(longest_run, run);
  }
  // Binomial: the rate's standard deviation is 3e-4 here; runs of zeros are about 6 at most.
  EXPECT_NEAR(static_cast<double>(dropped) / n, p, 2e-3);
  EXPECT_LT(longest_run, 12);

  dropout_mask(mask, 0.0f, 42);
  for (float m : mask) ASSERT_EQ(m, 1.0f);
}

// Masks drawn together (a forward's) are each the mask drawn alone, whatever their sizes.
TEST(Kernels, DropoutMasksDrawnTogetherEqualEachDrawnAlone) {
  std::vector<float> a(1001), b(7), c(70000), a1(a.size()), b1(b.size()), c1(c.size());
  const DropoutDraw draws[] = {
      {a.data(), 1001, 0.1f, 5}, {b.data(), 7, 0.5f, 6}, {c.data(), 70000, 0.25f, 7}};
  dropout_masks(draws, 3);
  dropout_mask(a1, 0.1f, 5);
  dropout_mask(b1, 0.5f, 6);
  dropout_mask(c1, 0.25f, 7);
  EXPECT_EQ(a, a1);
  EXPECT_EQ(b, b1);
  EXPECT_EQ(c, c1);
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

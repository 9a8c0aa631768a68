// Finite-difference checks of every backward kernel: the loss is sum(R * forward(x)) for a fixed
// random R, so the analytic gradient given dout = R must match central differences.
#include <gtest/gtest.h>

#include "test_random.h"

#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "simtune/core/error.h"
#include "simtune/core/matmul.h"
#include "simtune/model/dense.h"
#include "simtune/model/head.h"
#include "simtune/model/kernels.h"
#include "simtune/model/pooling.h"
#include "train/cosent_loss.h"
#include "train/loss.h"
#include "train/matryoshka_loss.h"
#include "train/softmax_loss.h"

namespace simtune {
namespace {

using testing::randn;

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); i++) s += double(a[i]) * b[i];
  return s;
}

// Compares `analytic` with central differences of `loss` in each element of `x`.
void expect_grad(const char* what, std::vector<float>& x, const std::vector<float>& analytic,
                 const std::function<double()>& loss, double h = 1e-2, double rel_tol = 1e-2) {
  ASSERT_EQ(x.size(), analytic.size());
  double max_diff = 0, max_ref = 0;
  std::size_t worst = 0;
  std::vector<double> numeric(x.size());
  for (std::size_t i = 0; i < x.size(); i++) {
    const float keep = x[i];
    x[i] = keep + static_cast<float>(h);
    const double up = loss();
    x[i] = keep - static_cast<float>(h);
    const double down = loss();
    x[i] = keep;
    numeric[i] = (up - down) / (2 * h);
    max_ref = std::max(max_ref, std::abs(numeric[i]));
    const double d = std::abs(numeric[i] - analytic[i]);
    if (d > max_diff) max_diff = d, worst = i;
  }
  EXPECT_LE(max_diff, rel_tol * max_ref + 1e-4)
      << what << ": element " << worst << " analytic " << analytic[worst] << " numeric "
      << numeric[worst] << " (max |numeric| " << max_ref << ")";
}

TEST(Gradcheck, Linear) {
  const int N = 5, C = 6, OC = 4;
  auto x = randn(N * C, 1), w = randn(OC * C, 2), b = randn(OC, 3), R = randn(N * OC, 4);
  std::vector<float> out(N * OC);
  auto loss = [&] {
    linear_forward(out.data(), x.data(), PackedMatrix(w.data(), OC, C), b.data(), N);
    return dot(out, R);
  };
  // Into::add adds dinp to what the buffer holds.
  const auto before = randn(N * C, 9);
  std::vector<float> dx = before, dw(OC * C, 0.0f), db(OC, 0.0f);
  linear_backward(dx.data(), dw.data(), db.data(), R.data(), x.data(), w.data(), N, C, OC,
                  Into::add);
  for (std::size_t i = 0; i < dx.size(); i++) dx[i] -= before[i];
  expect_grad("dinp", x, dx, loss);
  expect_grad("dweight", w, dw, loss);
  expect_grad("dbias", b, db, loss);
}

TEST(Gradcheck, LayerNorm) {
  const int N = 4, C = 16;
  auto x = randn(N * C, 5, 2.0f), w = randn(C, 6), b = randn(C, 7), R = randn(N * C, 8);
  std::vector<float> out(N * C), mean(N), rstd(N);
  auto loss = [&] {
    layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C,
                      1e-12f);
    return dot(out, R);
  };
  loss();
  // dinp is written over whatever it holds.
  std::vector<float> dx = randn(N * C, 9), dw(C, 0.0f), db(C, 0.0f);
  layernorm_backward(dx.data(), dw.data(), db.data(), R.data(), x.data(), w.data(), mean.data(),
                     rstd.data(), N, C);
  expect_grad("dinp", x, dx, loss);
  expect_grad("dweight", w, dw, loss);
  expect_grad("dbias", b, db, loss);
}

// The dense output z enters as x = dropout(z + bias) + residual; forward overwrites its x
// argument, so each evaluation starts from a copy of z.
TEST(Gradcheck, BiasResidualLayerNormWithAndWithoutDropout) {
  const int N = 4, C = 16;
  auto z = randn(N * C, 21), r = randn(N * C, 22), b = randn(C, 23), w = randn(C, 24),
       lb = randn(C, 25), R = randn(N * C, 26);
  std::vector<float> mask(N * C);
  std::mt19937 gen(27);
  for (auto& m : mask) m = gen() % 4 == 0 ? 0.0f : 1.0f / 0.75f;
  for (const float* dropout :
       {static_cast<const float*>(nullptr), static_cast<const float*>(mask.data())}) {
    std::vector<float> x(N * C), out(N * C), mean(N), rstd(N);
    auto loss = [&] {
      x = z;
      bias_residual_layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), b.data(),
                                      dropout, r.data(), w.data(), lb.data(), N, C, 1e-12f);
      return dot(out, R);
    };
    loss();
    // dresidual and ddense are written over whatever they hold.
    std::vector<float> dr = randn(N * C, 28), dz = randn(N * C, 29), db(C, 0.0f), dw(C, 0.0f),
                       dlb(C, 0.0f);
    bias_residual_layernorm_backward(dr.data(), dz.data(), db.data(), dw.data(), dlb.data(),
                                     R.data(), x.data(), mean.data(), rstd.data(), dropout,
                                     w.data(), N, C);
    const std::string tag = dropout ? " (dropout)" : "";
    expect_grad(("ddense" + tag).c_str(), z, dz, loss);
    expect_grad(("dresidual" + tag).c_str(), r, dr, loss);
    expect_grad(("dbias" + tag).c_str(), b, db, loss);
    expect_grad(("dweight" + tag).c_str(), w, dw, loss);
    expect_grad(("dln_bias" + tag).c_str(), lb, dlb, loss);
  }
}

// The dense output z enters as gelu(z + bias). An identity weight makes linear_gelu_forward's
// product z itself (each chain adds one z and exact zeros), so the gradients are those of z.
TEST(Gradcheck, BiasGelu) {
  const int N = 3, C = 20;
  auto z = randn(N * C, 9, 2.0f), b = randn(C, 30), R = randn(N * C, 10);
  std::vector<float> identity(C * C, 0.0f);
  for (int i = 0; i < C; i++) identity[i * C + i] = 1.0f;
  const PackedMatrix packed(identity.data(), C, C);
  std::vector<float> x(N * C), out(N * C);
  auto loss = [&] {
    linear_gelu_forward(out.data(), x.data(), z.data(), packed, b.data(), N);
    return dot(out, R);
  };
  loss();
  // dinp is written over whatever it holds.
  std::vector<float> dz = randn(N * C, 31), db(C, 0.0f);
  bias_gelu_backward(dz.data(), db.data(), R.data(), x.data(), N, C);
  expect_grad("dinp", z, dz, loss, 1e-3);
  expect_grad("dbias", b, db, loss, 1e-3);
}

TEST(Gradcheck, AttentionOverPackedSequencesWithAndWithoutDropout) {
  const int NH = 2, HS = 4, C = NH * HS;
  const std::vector<std::int32_t> offsets = {0, 3, 4, 9};
  const SeqSpans spans{offsets.data(), 3};
  const int N = 9;
  auto qkv = randn(N * 3 * C, 11), R = randn(N * C, 12);
  std::vector<std::int64_t> poff(4);
  const auto nprobs = attention_probs_offsets(poff.data(), spans, NH);
  std::vector<float> mask(nprobs);
  std::mt19937 gen(19);
  for (auto& m : mask) m = gen() % 4 == 0 ? 0.0f : 1.0f / 0.75f;
  for (const float* dropout :
       {static_cast<const float*>(nullptr), static_cast<const float*>(mask.data())}) {
    std::vector<float> probs(nprobs), dprobs(nprobs), ctx(N * C);
    auto loss = [&] {
      attention_forward(ctx.data(), probs.data(), qkv.data(), dropout, spans, poff.data(), NH, C);
      return dot(ctx, R);
    };
    loss();
    // Written, not accumulated: what was there before must not matter.
    std::vector<float> dqkv(N * 3 * C, std::numeric_limits<float>::quiet_NaN());
    attention_backward(dqkv.data(), dprobs.data(), R.data(), qkv.data(), probs.data(), dropout,
                       spans, poff.data(), NH, C);
    expect_grad(dropout ? "dqkv (dropout)" : "dqkv", qkv, dqkv, loss);
  }
}

TEST(Gradcheck, EmbeddingsWithRepeatedIds) {
  const int V = 6, P = 5, C = 4, N = 7;
  const std::vector<std::int32_t> ids = {1, 3, 1, 5, 0, 3, 1}, pos = {0, 1, 2, 0, 1, 2, 3};
  auto wte = randn(V * C, 13), wpe = randn(P * C, 14), wtt = randn(2 * C, 15), R = randn(N * C, 16);
  std::vector<float> out(N * C);
  auto loss = [&] {
    embeddings_forward(out.data(), ids.data(), pos.data(), wte.data(), wpe.data(), wtt.data(), N,
                       C);
    return dot(out, R);
  };
  std::vector<float> dwte(V * C, 0.0f), dwpe(P * C, 0.0f), dwtt(2 * C, 0.0f);
  embeddings_backward(dwte.data(), dwpe.data(), dwtt.data(), R.data(), ids.data(), pos.data(), N,
                      C);
  expect_grad("dwte", wte, dwte, loss);
  expect_grad("dwpe", wpe, dwpe, loss);
  expect_grad("dwtt", wtt, dwtt, loss);
}

TEST(Gradcheck, EveryPoolingModeAndNormalize) {
  const int C = 3;
  const std::vector<std::int32_t> offsets = {0, 4, 5, 8};
  const SeqSpans spans{offsets.data(), 3};
  PoolingConfig cfg;
  cfg.word_embedding_dimension = C;
  cfg.cls_token = cfg.max_tokens = cfg.mean_tokens = cfg.mean_sqrt_len_tokens = true;
  cfg.weightedmean_tokens = cfg.lasttoken = true;
  const int D = cfg.output_dimension();
  auto h = randn(8 * C, 17), R = randn(3 * D, 18);
  std::vector<float> pooled(3 * D), normed(3 * D);
  auto loss = [&] {
    pooling_forward(pooled.data(), h.data(), spans, C, cfg);
    normed = pooled;
    normalize_forward(normed.data(), 3, D);
    return dot(normed, R);
  };
  loss();
  std::vector<float> dpooled(3 * D, 0.0f), dh(8 * C, 0.0f);
  normalize_backward(dpooled.data(), R.data(), pooled.data(), 3, D);
  pooling_backward(dh.data(), dpooled.data(), h.data(), spans, C, cfg);
  // A small step keeps max pooling's argmax fixed.
  expect_grad("dhidden", h, dh, loss, 1e-3);
}

TEST(Gradcheck, DenseWithEveryActivation) {
  const int B = 3, in = 5, out = 4;
  for (const Activation act : {Activation::Identity, Activation::Tanh, Activation::ReLU,
                               Activation::GELU, Activation::Sigmoid}) {
    for (const bool bias : {true, false}) {
      DenseConfig cfg;
      cfg.in_features = in;
      cfg.out_features = out;
      cfg.bias = bias;
      cfg.activation = act;
      auto x = randn(B * in, 21), w = randn(out * in, 22), b = randn(out, 23),
           R = randn(B * out, 24);
      const DenseWeights weights{w.data(), bias ? b.data() : nullptr};
      std::vector<float> y(B * out), pre(B * out), dpre(B * out);
      auto loss = [&] {
        dense_forward(y.data(), pre.data(), x.data(), weights, cfg, B);
        return dot(y, R);
      };
      loss();
      std::vector<float> dx = randn(B * in, 25), dw(out * in, 0.0f), db(out, 0.0f);  // dx written
      dense_backward(dx.data(), {dw.data(), bias ? db.data() : nullptr}, dpre.data(), R.data(),
                     pre.data(), x.data(), weights, cfg, B);
      const std::string what = activation_type_name(act) + std::string(bias ? " bias" : "");
      // ReLU's kink: a small step keeps every pre-activation on its side.
      const double h = act == Activation::ReLU ? 1e-3 : 1e-2;
      expect_grad((what + " dx").c_str(), x, dx, loss, h);
      expect_grad((what + " dweight").c_str(), w, dw, loss, h);
      if (bias) expect_grad((what + " dbias").c_str(), b, db, loss, h);
    }
  }
}

// Pooling, two Dense modules and Normalize chained through SentenceHead, as encode and training
// run them.
TEST(Gradcheck, SentenceHeadThroughDenseAndNormalize) {
  const int C = 4;
  const std::vector<std::int32_t> offsets = {0, 3, 7};
  const SeqSpans spans{offsets.data(), 2};
  ModelFiles files;
  files.bert.hidden_size = C;
  files.pooling.word_embedding_dimension = C;
  files.pooling.cls_token = true;  // with mean: 8 features
  files.dense = {{8, 6, true, Activation::Tanh, {}}, {6, 5, false, Activation::GELU, {}}};
  files.normalize = true;
  auto h = randn(7 * C, 31), w0 = randn(6 * 8, 32), b0 = randn(6, 33), w1 = randn(5 * 6, 34);
  auto R = randn(2 * 5, 35);
  const std::vector<DenseWeights> weights = {{w0.data(), b0.data()}, {w1.data(), nullptr}};
  SentenceHead head(files);
  std::vector<float> emb(2 * 5);
  auto loss = [&] {
    const float* e = head.forward(h.data(), spans, weights, 0, true);
    emb.assign(e, e + emb.size());
    return dot(emb, R);
  };
  loss();
  std::vector<float> dh(7 * C, 0.0f), dw0(6 * 8, 0.0f), db0(6, 0.0f), dw1(5 * 6, 0.0f);
  head.backward(dh.data(), R.data(), h.data(), spans,
                {{dw0.data(), db0.data()}, {dw1.data(), nullptr}}, weights);
  expect_grad("dhidden", h, dh, loss);
  expect_grad("dense 0 weight", w0, dw0, loss);
  expect_grad("dense 0 bias", b0, db0, loss);
  expect_grad("dense 1 weight", w1, dw1, loss);
}

// A loss through its Loss interface (which runs its forward and backward kernels): the
// gradient it accumulates against central differences of the (float) loss it returns. h is small
// because the ranking losses multiply similarities by 20.
void expect_loss_grad(const std::string& name, int columns, int B, int D,
                      const std::vector<float>& labels) {
  const std::unique_ptr<Loss> l = make_loss(name, columns);
  auto emb = randn(static_cast<std::size_t>(columns) * B * D, 41);
  std::vector<float> scratch(emb.size());
  auto loss = [&] {
    return static_cast<double>(
        l->forward_backward(scratch.data(), emb.data(), labels.data(), B, D));
  };
  std::vector<float> d(emb.size(), 0.0f);
  l->forward_backward(d.data(), emb.data(), labels.data(), B, D);
  expect_grad(name.c_str(), emb, d, loss, 2e-3, 2e-2);
}

TEST(Gradcheck, RankingLossesWithAndWithoutHardNegatives) {
  const std::vector<float> no_labels(5, 0.0f);
  expect_loss_grad("MultipleNegativesRankingLoss", 2, 5, 6, no_labels);
  expect_loss_grad("MultipleNegativesRankingLoss", 4, 5, 6, no_labels);
  expect_loss_grad("MultipleNegativesSymmetricRankingLoss", 2, 5, 6, no_labels);
  expect_loss_grad("MultipleNegativesSymmetricRankingLoss", 3, 5, 6, no_labels);
}

TEST(Gradcheck, CoSENTAndAnglEWithTiedLabels) {
  const std::vector<float> labels = {0.2f, 0.9f, 0.2f, 0.5f, 1.0f, 0.0f};
  expect_loss_grad("CoSENTLoss", 2, 6, 8, labels);
  expect_loss_grad("AnglELoss", 2, 6, 8, labels);
}

TEST(Gradcheck, ContrastiveOnlineContrastiveAndTriplet) {
  // Mixed labels, so both of OnlineContrastiveLoss's kinds and its bars take part.
  const std::vector<float> labels = {1, 0, 1, 0, 0, 1};
  expect_loss_grad("ContrastiveLoss", 2, 6, 8, labels);
  expect_loss_grad("OnlineContrastiveLoss", 2, 6, 8, labels);
  expect_loss_grad("ContrastiveLoss", 2, 6, 8, {0.2f, 0.9f, 0.5f, 1.0f, 0.0f, 0.4f});
  expect_loss_grad("TripletLoss", 3, 6, 8, std::vector<float>(6, 0.0f));
}

// SoftmaxLoss: the embeddings' gradient and its classifier's (weight and bias), with a tie
// u == v in one dimension (|u - v|'s gradient 0 there, as torch's abs).
TEST(Gradcheck, SoftmaxLossEmbeddingsAndClassifier) {
  const int B = 5, D = 6, K = 3;
  const std::unique_ptr<Loss> l = make_loss("SoftmaxLoss", 2, LossDims{K, D});
  const std::vector<ParamTensor> tensors = l->parameters();
  ASSERT_EQ(tensors.size(), 2u);
  EXPECT_EQ(tensors[0].name, "classifier.weight");
  EXPECT_EQ(tensors[0].shape, (std::vector<std::int64_t>{K, 3 * D}));
  EXPECT_EQ(tensors[1].name, "classifier.bias");
  const std::size_t count = tensors[1].offset + tensors[1].numel;
  auto emb = randn(2 * B * D, 71), params = randn(count, 72);
  emb[B * D + 2] = emb[2];
  const std::vector<float> labels = {0, 2, 1, 2, 0};
  std::vector<float> scratch_emb(emb.size()), scratch_params(count);
  auto loss = [&] {
    l->bind_parameters(params.data(), scratch_params.data());
    return static_cast<double>(
        l->forward_backward(scratch_emb.data(), emb.data(), labels.data(), B, D));
  };
  std::vector<float> d_emb(emb.size(), 0.0f), d_params(count, 0.0f);
  l->bind_parameters(params.data(), d_params.data());
  l->forward_backward(d_emb.data(), emb.data(), labels.data(), B, D);
  expect_grad("SoftmaxLoss embeddings", emb, d_emb, loss, 2e-3, 2e-2);
  expect_grad("SoftmaxLoss classifier", params, d_params, loss, 2e-3, 2e-2);
  EXPECT_THROW(make_loss("SoftmaxLoss", 2, LossDims{0, D}), Error);
}

// torch.nn.Linear's init: uniform within +-1/sqrt(fan_in), filling the range, the same for a seed.
TEST(SoftmaxLoss, InitIsLinearsUniformFromTheSeed) {
  const int fan_in = 48;
  std::vector<float> a(4000), b(4000);
  Rng r1(7), r2(7);
  init_linear(a.data(), a.size(), fan_in, r1);
  init_linear(b.data(), b.size(), fan_in, r2);
  EXPECT_EQ(a, b);
  const double bound = 1.0 / std::sqrt(fan_in);
  double lo = 0, hi = 0, sum = 0, sq = 0;
  for (float v : a)
    lo = std::min<double>(lo, v), hi = std::max<double>(hi, v), sum += v, sq += v * v;
  EXPECT_LE(hi, bound);
  EXPECT_GE(lo, -bound);
  EXPECT_GT(hi, 0.99 * bound);
  EXPECT_LT(lo, -0.99 * bound);
  EXPECT_NEAR(sum / a.size(), 0.0, 0.05 * bound);
  // Variance of U(-b, b): b^2 / 3.
  EXPECT_NEAR(sq / a.size(), bound * bound / 3, 0.1 * bound * bound / 3);
}

TEST(Gradcheck, MatryoshkaAroundRankingAndCoSENT) {
  const int B = 4, D = 8;
  const std::vector<float> labels = {0.1f, 0.7f, 0.3f, 0.9f};
  for (const char* name : {"MultipleNegativesRankingLoss", "CoSENTLoss"}) {
    MatryoshkaLoss l(make_loss(name, 2), {4, 8, 2}, {0.5f, 1.0f, 2.0f}, D);
    auto emb = randn(2 * B * D, 61);
    std::vector<float> scratch(emb.size()), d(emb.size(), 0.0f);
    auto loss = [&] {
      return static_cast<double>(
          l.forward_backward(scratch.data(), emb.data(), labels.data(), B, D));
    };
    l.forward_backward(d.data(), emb.data(), labels.data(), B, D);
    expect_grad(name, emb, d, loss, 2e-3, 2e-2);
  }
  EXPECT_THROW(MatryoshkaLoss(make_loss("CoSENTLoss", 2), {16}, {}, D), Error);
  // AnglELoss takes even dimensions only, the model's and each cut (see check_dimension).
  EXPECT_THROW(make_loss("AnglELoss", 2, LossDims{0, 7}), Error);
  EXPECT_THROW(MatryoshkaLoss(make_loss("AnglELoss", 2), {8, 5}, {}, D), Error);
  EXPECT_NO_THROW(MatryoshkaLoss(make_loss("AnglELoss", 2, LossDims{0, D}), {8, 4}, {}, D));
  EXPECT_NO_THROW(make_loss("CoSENTLoss", 2, LossDims{0, 7}));
  EXPECT_THROW(MatryoshkaLoss(make_loss("CoSENTLoss", 2), {4, 2}, {1.0f}, D), Error);
}

TEST(Gradcheck, AngleSimilarityBothSides) {
  const int B = 3, D = 8;
  auto u = randn(B * D, 51), v = randn(B * D, 52), R = randn(B, 53);
  std::vector<float> sim(B);
  auto loss = [&] {
    angle_similarity_forward(sim.data(), u.data(), v.data(), B, D);
    return dot(sim, R);
  };
  std::vector<float> du(B * D, 0.0f), dv(B * D, 0.0f);
  angle_similarity_backward(du.data(), dv.data(), R.data(), u.data(), v.data(), B, D);
  expect_grad("angle du", u, du, loss, 1e-3);
  expect_grad("angle dv", v, dv, loss, 1e-3);
}

}  // namespace
}  // namespace simtune

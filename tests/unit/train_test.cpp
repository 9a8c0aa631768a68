// The training module without an oracle: AdamW and gradient clipping against torch.optim.AdamW's
// and clip_grad_norm_'s formulas written out here in double precision, the linear warmup
// schedule, one training step on a tiny random model, checkpoint save/resume bit-identity (by
// hand and through the Trainer facade) and the evaluation policy.
#include <gtest/gtest.h>

#include <unistd.h>
#include "test_errors.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

#include "simtune/core/error.h"
#include "simtune/core/file.h"
#include "simtune/io/model_files.h"
#include "simtune/io/safetensors.h"
#include "simtune/model/loader.h"
#include "simtune/model/params.h"
#include "simtune/train/trainer.h"
#include "test_random.h"
#include "train/batches.h"
#include "train/checkpoint.h"
#include "train/cosine_similarity_loss.h"
#include "train/embedding_pass.h"
#include "train/eval_policy.h"
#include "train/grad_cache.h"
#include "train/gradients.h"
#include "train/loss.h"
#include "train/optimizer.h"
#include "train/train_state.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using simtune::testing::randn;

constexpr const char* kWordEmbeddings = "embeddings.word_embeddings.weight";

// A fresh directory under the system temp dir, removed with the object.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name)
      : path_(fs::temp_directory_path() /
              ("simtune_train_test_" + std::to_string(::getpid()) + "_" + name)) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

using testing::error_of;

// ---------------------------------------------------------------------------------------------
// AdamW and clipping against the textbook formulas.

// torch.optim.AdamW (decoupled weight decay) over a flat buffer, in double.
struct ReferenceAdamW {
  double lr = 0, beta1 = 0, beta2 = 0, eps = 0, weight_decay = 0;
  std::vector<double> p, m, v;
  std::vector<bool> decay;
  int t = 0;

  void step(const std::vector<double>& g) {
    t++;
    const double bc1 = 1.0 - std::pow(beta1, t), bc2 = 1.0 - std::pow(beta2, t);
    for (std::size_t i = 0; i < p.size(); i++) {
      if (decay[i]) p[i] -= lr * weight_decay * p[i];
      m[i] = beta1 * m[i] + (1.0 - beta1) * g[i];
      v[i] = beta2 * v[i] + (1.0 - beta2) * g[i] * g[i];
      const double m_hat = m[i] / bc1, v_hat = v[i] / bc2;
      p[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
  }
};

// torch.nn.utils.clip_grad_norm_: returns the total norm, scales by max/(norm + 1e-6) if < 1.
double reference_clip(std::vector<double>& g, double max_norm) {
  double sq = 0;
  for (double x : g) sq += x * x;
  const double norm = std::sqrt(sq);
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0) {
    for (double& x : g) x *= coef;
  }
  return norm;
}

// |got - want| <= 1e-6 * max(|want|, floor), floor a tenth of the largest |want| (so values near
// zero after cancellation are compared on the array's scale).
void expect_close(const float* got, const std::vector<double>& want, const std::string& what) {
  double largest = 0;
  for (double w : want) largest = std::max(largest, std::abs(w));
  const double floor = 0.1 * largest;
  int bad = 0;
  for (std::size_t i = 0; i < want.size(); i++) {
    const double tol = 1e-6 * std::max(std::abs(want[i]), floor);
    if (!(std::abs(got[i] - want[i]) <= tol) && bad++ < 5) {
      ADD_FAILURE() << what << "[" << i << "]: got " << got[i] << ", want " << want[i];
    }
  }
  EXPECT_EQ(bad, 0) << what << ": elements off";
}

// Decaying dense tensor, the sparse matrix (its 4096-float chunk boundary falls inside row 1363),
// a bias and a LayerNorm weight (no decay), then another decaying tensor.
ParamLayout optimizer_layout() {
  return ParamLayout::for_tensors({{"encoder.dense.weight", {2, 3}, 0, 0},
                                   {kWordEmbeddings, {1500, 3}, 0, 0},
                                   {"encoder.dense.bias", {3}, 0, 0},
                                   {"encoder.LayerNorm.weight", {3}, 0, 0},
                                   {"pooler.dense.weight", {3, 3}, 0, 0}});
}

// Writes random gradients into the dense ranges and the batch's rows of `grads`, and the same
// values (zero elsewhere) into `g`.
void fill_gradients(Gradients& grads, std::vector<double>& g, unsigned seed) {
  const std::vector<float> r = randn(grads.size(), seed, 0.3f);
  std::fill(g.begin(), g.end(), 0.0);
  auto set = [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; i++) {
      grads.data()[i] = r[i];
      g[i] = r[i];
    }
  };
  for (const FloatRange& range : grads.dense_ranges()) set(range.begin, range.end);
  const SparseRows& rows = grads.rows();
  for (std::int32_t row : rows.batch) {
    const std::size_t begin = rows.offset + static_cast<std::size_t>(row) * rows.width;
    set(begin, begin + rows.width);
  }
}

TEST(AdamW, ClippedTwoStepsMatchTextbookFormulas) {
  const ParamLayout layout = optimizer_layout();
  const ParamTensor& emb = layout.at(kWordEmbeddings);
  AdamWConfig config;
  config.beta1 = 0.8f;
  config.beta2 = 0.95f;
  config.eps = 1e-3f;  // large enough that where eps is added matters
  config.weight_decay = 0.1f;
  const float lr = 0.05f;

  std::vector<float> params = randn(layout.total, 11, 1.0f);
  ReferenceAdamW ref;
  ref.lr = lr;
  ref.beta1 = config.beta1;
  ref.beta2 = config.beta2;
  ref.eps = config.eps;
  ref.weight_decay = config.weight_decay;
  ref.p.assign(params.begin(), params.end());
  ref.m.assign(layout.total, 0.0);
  ref.v.assign(layout.total, 0.0);
  ref.decay.assign(layout.total, true);
  for (const char* name : {"encoder.dense.bias", "encoder.LayerNorm.weight"}) {
    const ParamTensor& t = layout.at(name);
    std::fill_n(ref.decay.begin() + static_cast<std::ptrdiff_t>(t.offset), t.numel, false);
  }
  const std::vector<float> initial = params;

  Gradients grads(layout, kWordEmbeddings);
  AdamW adam(layout, config);
  std::vector<double> g(layout.total);

  // Step 1: rows 2, 5 and 1363 (across the chunk boundary) hit; clipping scales.
  const TokenIds a = {5, 2, 1363}, b = {2, 5};
  grads.zero_for_batch({&a, &b});
  EXPECT_EQ(grads.rows().batch, (std::vector<std::int32_t>{2, 5, 1363}));
  fill_gradients(grads, g, 21);
  double sq = 0;
  for (double x : g) sq += x * x;
  const double max_norm1 = 0.5 * std::sqrt(sq);
  const double want_norm1 = reference_clip(g, max_norm1);
  const double norm1 = grad_norm(grads);
  EXPECT_NEAR(norm1, want_norm1, 1e-9 * want_norm1);
  const float scale1 = clip_scale(norm1, max_norm1);
  std::vector<float> clipped(grads.data(), grads.data() + grads.size());
  for (float& v : clipped) v *= scale1;
  expect_close(clipped.data(), g, "clipped gradient, step 1");
  adam.step(params.data(), grads, lr, scale1);
  ref.step(g);
  EXPECT_EQ(adam.steps(), 1);
  // AdamW zeroes the dense gradients as it reads them (zero_for_batch then skips them).
  auto dense_zero = [&grads] {
    for (const FloatRange& r : grads.dense_ranges()) {
      for (std::size_t i = r.begin; i < r.end; i++) {
        if (grads.data()[i] != 0.0f) return false;
      }
    }
    return true;
  };
  EXPECT_TRUE(dense_zero()) << "after step 1";
  expect_close(params.data(), ref.p, "params after step 1");
  expect_close(adam.m(), ref.m, "exp_avg after step 1");
  expect_close(adam.v(), ref.v, "exp_avg_sq after step 1");

  // Step 2: rows 5 and 7 hit (2 and 1363 were hit before, so their moments decay); no clipping.
  const TokenIds c = {7, 5};
  grads.zero_for_batch({&c});
  for (std::int32_t row : {2, 1363}) {
    const float* gr = grads.data() + emb.offset + static_cast<std::size_t>(row) * 3;
    EXPECT_TRUE(gr[0] == 0.0f && gr[1] == 0.0f && gr[2] == 0.0f)
        << "row " << row << " of the last batch was not zeroed";
  }
  fill_gradients(grads, g, 22);
  const double want_norm2 = reference_clip(g, 1e3);
  const double norm2 = grad_norm(grads);
  EXPECT_NEAR(norm2, want_norm2, 1e-9 * want_norm2);
  EXPECT_EQ(clip_scale(norm2, 1e3), 1.0f) << "a gradient under max_norm must not be scaled";
  adam.step(params.data(), grads, lr, clip_scale(norm2, 1e3));
  ref.step(g);
  EXPECT_EQ(adam.steps(), 2);
  expect_close(params.data(), ref.p, "params after step 2");
  expect_close(adam.m(), ref.m, "exp_avg after step 2");
  expect_close(adam.v(), ref.v, "exp_avg_sq after step 2");

  // Rows no batch hit: moments exactly zero, parameters moved by weight decay alone.
  const double keep2 = (1.0 - static_cast<double>(lr) * config.weight_decay) *
                       (1.0 - static_cast<double>(lr) * config.weight_decay);
  for (std::size_t row = 0; row < 1500; row++) {
    if (row == 2 || row == 5 || row == 7 || row == 1363) continue;
    for (std::size_t k = 0; k < 3; k++) {
      const std::size_t i = emb.offset + row * 3 + k;
      ASSERT_EQ(adam.m()[i], 0.0f) << "row " << row;
      ASSERT_EQ(adam.v()[i], 0.0f) << "row " << row;
      ASSERT_NEAR(params[i], initial[i] * keep2, 1e-6 * std::abs(initial[i])) << "row " << row;
    }
  }
  // Rows hit by a batch have moments.
  for (std::int32_t row : {2, 5, 7, 1363}) {
    EXPECT_NE(adam.v()[emb.offset + static_cast<std::size_t>(row) * 3], 0.0f) << "row " << row;
  }
  // A backward pass with no AdamW step after it (the gradients left as written): the next batch
  // starts from zero all the same.
  EXPECT_TRUE(dense_zero()) << "after step 2";
  grads.zero_for_batch({&c});
  fill_gradients(grads, g, 23);
  grads.zero_for_batch({&a});
  EXPECT_TRUE(dense_zero()) << "a batch after one without a step";
  for (std::int32_t row : {5, 7}) {
    const float* gr = grads.data() + emb.offset + static_cast<std::size_t>(row) * 3;
    EXPECT_TRUE(gr[0] == 0.0f && gr[1] == 0.0f && gr[2] == 0.0f)
        << "row " << row << " of a batch without a step was not zeroed";
  }
}

TEST(AdamW, DecayFlagsFollowTensorNames) {
  // One element per tensor, zero gradient everywhere: AdamW then only decays.
  const ParamLayout layout =
      ParamLayout::for_tensors({{"a.weight", {1}, 0, 0},
                                {kWordEmbeddings, {1, 1}, 0, 0},
                                {"a.bias", {1}, 0, 0},
                                {"embeddings.LayerNorm.weight", {1}, 0, 0},
                                {"encoder.layer.0.output.LayerNorm.bias", {1}, 0, 0},
                                {"encoder.layer.0.output.dense.weight", {1}, 0, 0}});
  AdamWConfig config;
  config.weight_decay = 0.5f;
  AdamW adam(layout, config);
  Gradients grads(layout, kWordEmbeddings);
  grads.zero_for_batch({});
  std::vector<float> params(layout.total, 2.0f);
  adam.step(params.data(), grads, 0.1f);
  const std::vector<float> want = {1.9f, 1.9f, 2.0f, 2.0f, 2.0f, 1.9f};
  for (std::size_t i = 0; i < want.size(); i++) {
    EXPECT_FLOAT_EQ(params[i], want[i]) << layout.tensors[i].name;
  }
}

TEST(AdamW, ClipScaleOnlyScalesDownAboveMaxNorm) {
  const ParamLayout layout = optimizer_layout();
  Gradients grads(layout, kWordEmbeddings);
  const TokenIds ids = {4, 9};
  grads.zero_for_batch({&ids});
  std::vector<double> g(layout.total);
  fill_gradients(grads, g, 5);
  double sq = 0;
  for (double x : g) sq += x * x;
  const double norm = std::sqrt(sq);
  EXPECT_NEAR(grad_norm(grads), norm, 1e-9 * norm);

  // Above the norm: nothing scaled.
  EXPECT_EQ(clip_scale(norm, 2 * norm), 1.0f);
  // Exactly at the norm: torch's + 1e-6 still scales by norm / (norm + 1e-6).
  const float c = clip_scale(norm, norm);
  EXPECT_EQ(c, static_cast<float>(norm / (norm + 1e-6)));
  ASSERT_LT(c, 1.0f);
  // Below: the scaled gradients' norm is max_norm.
  EXPECT_NEAR(norm * clip_scale(norm, 0.25), 0.25, 1e-6);
}

TEST(TrainSchedule, LinearWarmupThenLinearDecay) {
  const LinearWarmup w{4, 10};
  EXPECT_DOUBLE_EQ(w.at(0), 0.0);
  EXPECT_DOUBLE_EQ(w.at(2), 0.5);
  EXPECT_DOUBLE_EQ(w.at(3), 0.75);
  EXPECT_DOUBLE_EQ(w.at(4), 1.0);  // peak
  EXPECT_DOUBLE_EQ(w.at(7), 0.5);
  EXPECT_DOUBLE_EQ(w.at(9), 1.0 / 6.0);
  EXPECT_DOUBLE_EQ(w.at(10), 0.0);  // end
  EXPECT_DOUBLE_EQ(w.at(12), 0.0);  // past the end: clamped
  const LinearWarmup none{0, 8};
  EXPECT_DOUBLE_EQ(none.at(0), 1.0);
  EXPECT_DOUBLE_EQ(none.at(2), 0.75);
  EXPECT_DOUBLE_EQ(none.at(8), 0.0);
}

// ---------------------------------------------------------------------------------------------
// A tiny model, in memory and on disk.

const std::vector<std::string> kVocab = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the",  "a",    "cat",   "dog",   "sat",
    "on",    "mat",   "ran",   "fast",  "slow",   "red",  "blue", "big",   "small", "house",
    "car",   "tree",  "is",    "was",   "in",     "park", "man",  "woman", "plays", "music",
    "eats",  "food",  "sky",   "sun",   "rain",   ".",    "and",  "green", "bird",  "sings"};

json tiny_config_json() {
  return {{"model_type", "bert"},
          {"vocab_size", kVocab.size()},
          {"hidden_size", 16},
          {"num_hidden_layers", 2},
          {"num_attention_heads", 2},
          {"intermediate_size", 32},
          {"max_position_embeddings", 32},
          {"type_vocab_size", 2},
          {"initializer_range", 0.2},
          {"hidden_dropout_prob", 0.1},
          {"attention_probs_dropout_prob", 0.1}};
}

BertConfig tiny_config() {
  return BertConfig::from_json(tiny_config_json(), "tiny config");
}

// Model files for EmbeddingPass without a directory: mean pooling, no Normalize.
ModelFiles tiny_files() {
  ModelFiles files;
  files.bert = tiny_config();
  files.pooling.word_embedding_dimension = files.bert.hidden_size;
  files.max_seq_length = 32;
  return files;
}

// Three pairs: texts 0..2 are side a, 3..5 side b.
struct TinyBatch {
  std::vector<TokenIds> ids = {{2, 7, 9, 10, 3}, {2, 11, 3},     {2, 5, 5, 8, 13, 3},
                               {2, 7, 12, 3},    {2, 21, 22, 3}, {2, 14, 15, 16, 3}};
  Batch batch;
  TinyBatch() {
    for (const TokenIds& t : ids) batch.texts.push_back(&t);
    batch.labels = {0.9f, 0.1f, 0.5f};
    batch.examples = 3;
  }
  std::vector<std::int32_t> rows() const {
    std::vector<std::int32_t> r;
    for (const TokenIds& t : ids) r.insert(r.end(), t.begin(), t.end());
    std::sort(r.begin(), r.end());
    r.erase(std::unique(r.begin(), r.end()), r.end());
    return r;
  }
};

bool same_floats(const float* a, const float* b, std::size_t n) {
  return std::memcmp(a, b, n * sizeof(float)) == 0;
}

// One step of `params` on TinyBatch from a fresh state.
struct OneStep {
  const BertConfig config = tiny_config();
  const ModelFiles files = tiny_files();
  TinyBatch tiny;
  TrainState state;
  EmbeddingPass pass;
  CosineSimilarityLoss loss;
  StepSetup setup;

  OneStep(const BertParams& params, Dropout dropout, std::uint64_t seed)
      : state(params, config, AdamWConfig{}, seed),
        pass(files, dropout),
        setup{pass, loss, LinearWarmup{0, 10}, 1e-2f, 1.0f, dropout.enabled()} {}
  StepReport step() { return train_step(state, setup, tiny.batch); }
};

TEST(TrainStep, LossIsTheLossOfTheEmbeddingsAndParametersMove) {
  const BertParams init = BertParams::init(tiny_config(), 3);
  OneStep run(init, Dropout{}, 7);
  const int D = run.files.bert.hidden_size, B = 3;

  // The embeddings and loss of the initial parameters, computed outside train_step.
  BertParams copy = init;
  const BertWeights w = bert_weights(copy.layout, run.config, copy.values.data());
  EmbeddingPass pass(run.files, Dropout{});
  const float* emb = pass.forward(run.tiny.batch.texts, w, nullptr);
  CosineSimilarityLoss loss;
  const float want =
      loss.forward_backward(pass.zeroed_d_embeddings(), emb, run.tiny.batch.labels.data(), B, D);
  double mse = 0;
  for (int b = 0; b < B; b++) {
    const float* u = emb + b * D;
    const float* v = emb + (B + b) * D;
    double uv = 0, uu = 0, vv = 0;
    for (int i = 0; i < D; i++) {
      uv += static_cast<double>(u[i]) * v[i];
      uu += static_cast<double>(u[i]) * u[i];
      vv += static_cast<double>(v[i]) * v[i];
    }
    const double diff = uv / std::sqrt(uu * vv) - run.tiny.batch.labels[b];
    mse += diff * diff / B;
  }

  const StepReport report = run.step();
  EXPECT_TRUE(std::isfinite(report.loss));
  EXPECT_FLOAT_EQ(report.loss, want);
  EXPECT_NEAR(report.loss, mse, 1e-5 * std::max(1.0, mse));
  EXPECT_GT(report.loss, 0.0f);
  EXPECT_EQ(report.step, 1);
  EXPECT_EQ(run.state.step, 1);
  EXPECT_EQ(run.state.adam.steps(), 1);
  EXPECT_FLOAT_EQ(report.lr, 1e-2f);  // no warmup: the peak at step 0
  EXPECT_TRUE(std::isfinite(report.grad_norm));
  EXPECT_GT(report.grad_norm, 0.0);

  // Every tensor moves (by its gradient, or by weight decay alone).
  for (const ParamTensor& t : init.layout.tensors) {
    std::size_t changed = 0;
    for (std::size_t i = t.offset; i < t.offset + t.numel; i++) {
      changed += run.state.params.values[i] != init.values[i];
    }
    EXPECT_GT(changed, 0u) << t.name;
  }

  // Word-embedding rows: the batch's have moments, the rest none; AdamW read their gradients and
  // left them zero, as every gradient it reads.
  const std::vector<std::int32_t> rows = run.tiny.rows();
  EXPECT_EQ(run.state.grads.rows().batch, rows);
  const ParamTensor& wte = init.layout.at(kWordEmbeddings);
  const float* g = run.state.grads.data();
  for (int r = 0; r < run.config.vocab_size; r++) {
    const bool hit = std::binary_search(rows.begin(), rows.end(), r);
    const std::size_t begin = wte.offset + static_cast<std::size_t>(r) * D;
    bool any_grad = false, any_moment = false;
    for (std::size_t i = begin; i < begin + static_cast<std::size_t>(D); i++) {
      any_grad |= g[i] != 0.0f;
      any_moment |= run.state.adam.m()[i] != 0.0f || run.state.adam.v()[i] != 0.0f;
    }
    EXPECT_FALSE(any_grad) << "row " << r;
    EXPECT_EQ(any_moment, hit) << "row " << r;
  }
}

TEST(GradCache, EqualsTheUncachedLossAndGradientOnTheSameBatch) {
  // CachedMultipleNegativesRankingLoss against MultipleNegativesRankingLoss: 6 texts in
  // mini-batches of 4 and 2, and of 1; dropout off, as the library's equality holds per mask.
  BertParams init = BertParams::init(tiny_config(), 5);
  const ModelFiles files = tiny_files();
  TinyBatch tiny;
  const BertWeights w = bert_weights(init.layout, files.bert, init.values.data());
  std::vector<float> want(init.layout.total, 0.0f);
  EmbeddingPass pass(files, Dropout{});
  const std::unique_ptr<Loss> mnrl = make_loss("MultipleNegativesRankingLoss", 2);
  const float want_loss = forward_backward(
      pass, *mnrl, tiny.batch, w, bert_weights(init.layout, files.bert, want.data()), nullptr);
  double scale = 0;
  for (float g : want) scale = std::max(scale, static_cast<double>(std::abs(g)));
  ASSERT_GT(scale, 0.0);
  for (std::size_t mini : {4u, 1u}) {
    std::vector<float> got(init.layout.total, 0.0f);
    EmbeddingPass cached_pass(files, Dropout{});
    const std::unique_ptr<Loss> cached = make_loss("CachedMultipleNegativesRankingLoss", 2);
    GradCache cache(mini);
    const float got_loss =
        cache.forward_backward(cached_pass, *cached, tiny.batch, w,
                               bert_weights(init.layout, files.bert, got.data()), nullptr);
    EXPECT_NEAR(got_loss, want_loss, 1e-5 * std::abs(want_loss)) << "mini-batch " << mini;
    double worst = 0;
    for (std::size_t i = 0; i < got.size(); i++) {
      worst = std::max(worst, std::abs(static_cast<double>(got[i]) - want[i]));
    }
    EXPECT_LE(worst, 1e-5 * scale) << "mini-batch " << mini;
  }
}

TEST(GradCache, WithDropoutTheLossIsOfOnePassAndTheGeneratorEndsThere) {
  // The loss is MNRL of the embeddings each mini-batch gets on its first forward (the generator
  // going on from one to the next), and the replayed second forwards leave the generator where
  // that one pass left it, so a resumed run draws the same masks.
  BertParams init = BertParams::init(tiny_config(), 5);
  const ModelFiles files = tiny_files();
  TinyBatch tiny;
  const BertWeights w = bert_weights(init.layout, files.bert, init.values.data());
  const Dropout dropout{0.3f, 0.3f};
  const std::unique_ptr<Loss> loss = make_loss("CachedMultipleNegativesRankingLoss", 2);
  Rng rng(11), one_pass(11);
  std::vector<float> grads(init.layout.total, 0.0f);
  EmbeddingPass pass(files, dropout);
  GradCache cache(2);
  const float got = cache.forward_backward(
      pass, *loss, tiny.batch, w, bert_weights(init.layout, files.bert, grads.data()), &rng);

  EmbeddingPass probe(files, dropout);
  const int D = probe.dimension();
  std::vector<float> emb;
  for (std::size_t begin = 0; begin < tiny.batch.texts.size(); begin += 2) {
    const float* e =
        probe.forward({tiny.batch.texts[begin], tiny.batch.texts[begin + 1]}, w, &one_pass);
    emb.insert(emb.end(), e, e + 2 * D);
  }
  EXPECT_EQ(rng.state(), one_pass.state());
  std::vector<float> d(emb.size(), 0.0f);
  const std::unique_ptr<Loss> mnrl = make_loss("MultipleNegativesRankingLoss", 2);
  EXPECT_EQ(got, mnrl->forward_backward(d.data(), emb.data(), tiny.batch.labels.data(),
                                        tiny.batch.size(), D));
  double norm = 0;
  for (float g : grads) norm += static_cast<double>(g) * g;
  EXPECT_TRUE(std::isfinite(norm));
  EXPECT_GT(norm, 0.0);
}

TEST(TrainStep, SameStepsFromIdenticalStatesAreBitIdentical) {
  const BertParams init = BertParams::init(tiny_config(), 3);
  const std::size_t n = init.layout.total;
  {
    OneStep a(init, Dropout{}, 7), b(init, Dropout{}, 8);  // dropout off: the seed is unused
    for (int i = 0; i < 2; i++) EXPECT_EQ(a.step().loss, b.step().loss);
    EXPECT_TRUE(same_floats(a.state.params.values.data(), b.state.params.values.data(), n));
    EXPECT_TRUE(same_floats(a.state.adam.m(), b.state.adam.m(), n));
    EXPECT_TRUE(same_floats(a.state.adam.v(), b.state.adam.v(), n));
    EXPECT_FALSE(same_floats(a.state.params.values.data(), init.values.data(), n));
  }
  {
    // Dropout on: the same seed gives the same masks, another seed other ones.
    const Dropout dropout{0.1f, 0.1f};
    OneStep a(init, dropout, 7), b(init, dropout, 7), c(init, dropout, 8);
    for (int i = 0; i < 2; i++) {
      a.step();
      b.step();
      c.step();
    }
    EXPECT_TRUE(same_floats(a.state.params.values.data(), b.state.params.values.data(), n));
    EXPECT_TRUE(same_floats(a.state.adam.m(), b.state.adam.m(), n));
    EXPECT_EQ(a.state.dropout_rng.state(), b.state.dropout_rng.state());
    EXPECT_NE(a.state.dropout_rng.state(), Rng(7).state()) << "dropout drew no masks";
    EXPECT_FALSE(same_floats(a.state.params.values.data(), c.state.params.values.data(), n));
  }
}

TEST(TrainStep, NonFiniteLossThrowsNamingTheStepAndKeepsParameters) {
  BertParams init = BertParams::init(tiny_config(), 3);
  // A NaN in a row the batch reads makes the loss NaN.
  init.values[init.layout.at(kWordEmbeddings).offset + 7 * 16] =
      std::numeric_limits<float>::quiet_NaN();
  OneStep run(init, Dropout{}, 7);
  const std::string msg = error_of([&] { run.step(); });
  EXPECT_CONTAINS(msg, "step 1:");
  EXPECT_CONTAINS(msg, "loss");
  EXPECT_TRUE(same_floats(run.state.params.values.data(), init.values.data(), init.layout.total));
  EXPECT_EQ(run.state.step, 0);
  EXPECT_EQ(run.state.adam.steps(), 0);
  for (std::size_t i = 0; i < init.layout.total; i++) ASSERT_EQ(run.state.adam.m()[i], 0.0f) << i;
}

// A finite loss whose gradient is not.
class InfiniteGradientLoss : public Loss {
 public:
  std::string description() const override { return "test"; }
  int columns() const override { return 2; }
  float forward_backward(float* d_embeddings, const float*, const float*, int, int) override {
    d_embeddings[0] = std::numeric_limits<float>::infinity();
    return 0.5f;
  }
};

TEST(TrainStep, NonFiniteGradientNormThrowsNamingTheStepAndKeepsParameters) {
  const BertParams init = BertParams::init(tiny_config(), 3);
  OneStep run(init, Dropout{}, 7);
  run.step();
  const std::vector<float> params = run.state.params.values;
  const std::vector<float> m(run.state.adam.m(), run.state.adam.m() + init.layout.total);
  InfiniteGradientLoss loss;
  StepSetup bad{run.pass, loss, LinearWarmup{0, 10}, 1e-2f, 1.0f, false};
  const std::string msg = error_of([&] { train_step(run.state, bad, run.tiny.batch); });
  EXPECT_CONTAINS(msg, "step 2:");
  EXPECT_CONTAINS(msg, "gradient norm");
  EXPECT_TRUE(same_floats(run.state.params.values.data(), params.data(), params.size()));
  EXPECT_TRUE(same_floats(run.state.adam.m(), m.data(), m.size()));
  EXPECT_EQ(run.state.step, 1);
  EXPECT_EQ(run.state.adam.steps(), 1);
}

// ---------------------------------------------------------------------------------------------
// Checkpoints.

// root/source (config.json + vocab.txt, a plain Hugging Face directory) and root/model, a
// sentence-transformers directory with random weights.
fs::path write_tiny_model(const fs::path& root) {
  const fs::path src = root / "source";
  fs::create_directories(src);
  write_file_atomic(src / "config.json", tiny_config_json().dump(2));
  std::string vocab;
  for (const std::string& t : kVocab) vocab += t + "\n";
  write_file_atomic(src / "vocab.txt", vocab);
  const ModelFiles files = load_model_files(src);
  write_model_directory(files, root / "model", BertParams::init(files.bert, 3).tensor_refs());
  return root / "model";
}

// Seven pairs: with batch size 3, epochs of 3 steps (the last one a single pair).
std::vector<Pair> tiny_pairs() {
  return {{"the cat sat on the mat", "a cat sat", 0.9},
          {"the dog ran fast", "a bird sings", 0.1},
          {"the sky is blue", "the sun is red", 0.4},
          {"a man plays music", "a woman plays music", 0.7},
          {"the big house", "a small car", 0.2},
          {"rain in the park", "sun in the park", 0.5},
          {"the green tree", "a green bird", 0.3}};
}

constexpr std::size_t kBatchSize = 3;
constexpr std::uint64_t kSeed = 42;
constexpr std::int64_t kTotalSteps = 8;  // into the third epoch

struct TinyRun {
  ScratchDir dir;
  fs::path model_dir;
  LoadedModel model;
  RunIdentity run{kBatchSize, kSeed, true};
  const std::vector<Pair> pairs = tiny_pairs();
  mutable PairList rows{pairs};

  explicit TinyRun(const std::string& name)
      : dir(name), model_dir(write_tiny_model(dir.path())), model(load_model(model_dir.string())) {}

  TrainBatches batches() const {
    return TrainBatches(rows, model.tokenizer, model.files.max_seq_length, kBatchSize, kSeed, true);
  }
  AdamWConfig adam() const {
    AdamWConfig c;
    c.weight_decay = 0.01f;
    return c;
  }

  // Steps `state` on until `until` steps are done, with dropout and shuffling on; a fresh
  // EmbeddingPass and TrainBatches each call, as a new process would have.
  void train_until(TrainState& state, std::int64_t until) const {
    TrainBatches b = batches();
    EmbeddingPass pass(model.files, Dropout{0.1f, 0.1f});
    CosineSimilarityLoss loss;
    StepSetup setup{pass, loss, LinearWarmup{2, kTotalSteps}, 5e-3f, 1.0f, true};
    while (state.step < until) train_step(state, setup, b.at(state.step));
  }
};

// Which word-embedding rows some batch has hit (a resumed run does not know which of them the
// last batch hit first, and needs not: their moments are no longer zero).
std::vector<bool> hit_rows(const TrainState& s) {
  std::vector<bool> hit;
  for (std::uint8_t state : s.grads.rows().seen) hit.push_back(state != SparseRows::kNever);
  return hit;
}

void expect_same_state(const TrainState& a, const TrainState& b) {
  const std::size_t n = a.params.layout.total;
  ASSERT_EQ(n, b.params.layout.total);
  EXPECT_EQ(a.step, b.step);
  EXPECT_EQ(a.adam.steps(), b.adam.steps());
  EXPECT_TRUE(same_floats(a.params.values.data(), b.params.values.data(), n)) << "params differ";
  EXPECT_TRUE(same_floats(a.adam.m(), b.adam.m(), n)) << "exp_avg differs";
  EXPECT_TRUE(same_floats(a.adam.v(), b.adam.v(), n)) << "exp_avg_sq differs";
  EXPECT_EQ(a.dropout_rng.state(), b.dropout_rng.state());
  EXPECT_EQ(hit_rows(a), hit_rows(b));
  EXPECT_EQ(a.params.extra_values, b.params.extra_values);
}

TEST(Checkpoint, ResumeIsBitIdenticalToTrainingStraight) {
  TinyRun t("resume");
  ASSERT_EQ(t.batches().steps_per_epoch(), 3);
  const BertConfig& config = t.model.files.bert;

  TrainState straight(t.model.params, config, t.adam(), kSeed);
  t.train_until(straight, kTotalSteps);
  EXPECT_FALSE(same_floats(straight.params.values.data(), t.model.params.values.data(),
                           t.model.params.layout.total));

  // Resumed in warmup, at an epoch's end and inside an epoch.
  for (const std::int64_t k : {std::int64_t{1}, std::int64_t{3}, std::int64_t{5}}) {
    SCOPED_TRACE("resumed after " + std::to_string(k) + " steps");
    const fs::path out = t.dir.path() / ("out" + std::to_string(k));
    std::vector<float> params_at_k;
    {
      TrainState first(t.model.params, config, t.adam(), kSeed);
      t.train_until(first, k);
      save_checkpoint(out, t.model.files, first, t.run, 0.625, 3);
      params_at_k = first.params.values;
    }
    const fs::path ckpt = out / "checkpoints" / ("checkpoint-" + std::to_string(k));
    ASSERT_TRUE(fs::is_directory(ckpt));
    EXPECT_FALSE(
        fs::exists(out / "checkpoints" / ("checkpoint-" + std::to_string(k) + ".partial")));
    // The checkpoint is also a model directory, with the parameters of step k.
    const LoadedModel saved = load_model(ckpt.string());
    EXPECT_TRUE(same_floats(saved.params.values.data(), params_at_k.data(), params_at_k.size()));
    TrainState resumed(BertParams::load(ckpt / "model.safetensors", config), config, t.adam(),
                       /*seed=*/999);  // the RNG comes from the checkpoint
    EXPECT_EQ(load_checkpoint(ckpt, resumed, t.run), 0.625);
    EXPECT_EQ(resumed.step, k);
    EXPECT_EQ(resumed.adam.steps(), k);
    t.train_until(resumed, kTotalSteps);
    expect_same_state(straight, resumed);
  }
}

TEST(Checkpoint, TrainerStateIsRangeChecked) {
  const std::string good =
      R"({"step": 4, "adam_steps": 4, "seed": 1, "batch_size": 2, "shuffle": true,
          "dropout_rng": ["1", "2", "3", "18446744073709551615"], "best_score": 0.5})";
  const SavedState s = parse_trainer_state(good, "ts.json");
  EXPECT_EQ(s.step, 4);
  EXPECT_EQ(s.rng[3], 18446744073709551615ull);
  // Checkpoints written before the sampler was recorded used the default one.
  EXPECT_FALSE(s.run.no_duplicates);
  std::string sampler = good;
  sampler.replace(sampler.find("\"shuffle\""), 0, R"("batch_sampler": "no_duplicates", )");
  EXPECT_TRUE(parse_trainer_state(sampler, "ts.json").run.no_duplicates);
  const std::pair<std::string, std::string> bad[] = {
      {R"("shuffle": true)", R"("shuffle": true, "batch_sampler": "random")"},
      {R"("shuffle": true)", R"("shuffle": true, "batch_sampler": 1)"},
      {R"("step": 4)", R"("step": -5)"},
      {R"("step": 4, "adam_steps": 4)",
       R"("step": 1000000000000000000, "adam_steps": 1000000000000000000)"},
      {R"("3")", R"("x3")"},
      {R"("3", )", ""},
      {R"("1", "2", "3", "18446744073709551615")", R"("0", "0", "0", "0")"},
      {R"("18446744073709551615")", R"("18446744073709551616")"},
      {R"("batch_size": 2)", R"("batch_size": 0)"},
      {R"("step": 4)", R"("step": "4")"},
      // Floats and out-of-range numbers, which nlohmann's get<int>() would convert with UB.
      {R"("seed": 1)", R"("seed": 40000000000000000000000000002)"},
      {R"("seed": 1)", R"("seed": -1)"},
      {R"("step": 4)", R"("step": 4.5)"},
      {R"("batch_size": 2)", R"("batch_size": 1e300)"},
  };
  for (const auto& [from, to] : bad) {
    std::string text = good;
    text.replace(text.find(from), from.size(), to);
    const std::string msg = error_of([&] { parse_trainer_state(text, "ts.json"); });
    EXPECT_CONTAINS(msg, "ts.json: not a simtune checkpoint state");
  }
}

TEST(Checkpoint, RefusesAnotherRunIdentityAndNamesDamage) {
  TinyRun t("refuse");
  const BertConfig& config = t.model.files.bert;
  const fs::path out = t.dir.path() / "out";
  {
    TrainState state(t.model.params, config, t.adam(), kSeed);
    t.train_until(state, 2);
    save_checkpoint(out, t.model.files, state, t.run, -std::numeric_limits<double>::infinity(), 3);
  }
  const fs::path ckpt = out / "checkpoints" / "checkpoint-2";
  auto fresh = [&] {
    return std::make_unique<TrainState>(t.model.params, config, t.adam(), kSeed);
  };
  {
    auto s = fresh();
    EXPECT_EQ(load_checkpoint(ckpt, *s, t.run), -std::numeric_limits<double>::infinity());
  }
  for (const RunIdentity& other :
       {RunIdentity{kBatchSize + 1, kSeed, true}, RunIdentity{kBatchSize, kSeed + 1, true},
        RunIdentity{kBatchSize, kSeed, false}, RunIdentity{kBatchSize, kSeed, true, true}}) {
    auto s = fresh();
    const std::string msg = error_of([&] { load_checkpoint(ckpt, *s, other); });
    EXPECT_CONTAINS(msg, (ckpt / "trainer_state.json").string());
    EXPECT_CONTAINS(msg, "--batch-size");
    EXPECT_CONTAINS(msg, "--batch-sampler");
    EXPECT_EQ(s->step, 0);
  }

  // optimizer.safetensors without one tensor.
  const fs::path opt = ckpt / "optimizer.safetensors";
  const std::string missing = "exp_avg_sq.encoder.layer.1.output.LayerNorm.bias";
  {
    const SafetensorsFile file = SafetensorsFile::open(opt);
    std::vector<std::vector<float>> data;
    std::vector<TensorRef> keep;
    data.reserve(file.tensors().size());
    for (const TensorInfo& info : file.tensors()) {
      if (info.name == missing) continue;
      data.emplace_back(static_cast<std::size_t>(info.numel()));
      file.read_f32(info, data.back().data());
      keep.push_back({info.name, info.shape, data.back().data()});
    }
    ASSERT_EQ(keep.size() + 1, file.tensors().size());
    const fs::path tmp = t.dir.path() / "optimizer.safetensors";
    save_safetensors(tmp, keep);
    fs::rename(tmp, opt);
  }
  {
    auto s = fresh();
    const std::string msg = error_of([&] { load_checkpoint(ckpt, *s, t.run); });
    EXPECT_CONTAINS(msg, missing);
    EXPECT_CONTAINS(msg, opt.string());
  }

  // A damaged trainer_state.json.
  write_file_atomic(ckpt / "trainer_state.json", "{\"step\": 2");
  {
    auto s = fresh();
    EXPECT_CONTAINS(error_of([&] { load_checkpoint(ckpt, *s, t.run); }),
                    (ckpt / "trainer_state.json").string());
  }
}

TEST(Checkpoint, KeepsTheNewestCheckpoints) {
  TinyRun t("keep");
  const fs::path out = t.dir.path() / "out";
  TrainState state(t.model.params, t.model.files.bert, t.adam(), kSeed);
  fs::create_directories(out / "checkpoints" / "checkpoint-3.partial");  // a crashed save
  for (const std::int64_t step : {8, 9, 10}) {
    state.step = step;
    save_checkpoint(out, t.model.files, state, t.run, 0.0, 2);
  }
  // Numeric order (10 is newer than 9), and the unfinished directory is no checkpoint.
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(out / "checkpoints")) {
    const std::string name = e.path().filename().string();
    if (name.find('.') == std::string::npos) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"checkpoint-10", "checkpoint-9"}));
}

TEST(TrainerCheckpoint, ResumedTrainerWritesByteIdenticalModel) {
  TinyRun t("trainer");
  TrainOptions o;
  o.batch_size = kBatchSize;
  o.seed = kSeed;
  o.lr = 5e-3f;
  o.max_steps = kTotalSteps;
  o.checkpoint_steps = 3;
  o.checkpoint_limit = 5;
  const fs::path straight = t.dir.path() / "straight", resumed = t.dir.path() / "resumed";
  {
    Trainer trainer(t.model_dir, o);
    const TrainResult r = trainer.train(tiny_pairs(), straight);
    EXPECT_EQ(r.steps, kTotalSteps);
    EXPECT_TRUE(std::isfinite(r.last_loss));
  }
  ASSERT_TRUE(fs::is_directory(straight / "checkpoints" / "checkpoint-3"));
  ASSERT_TRUE(fs::is_directory(straight / "checkpoints" / "checkpoint-6"));
  {
    TrainOptions ro = o;
    ro.resume = straight / "checkpoints" / "checkpoint-3";
    Trainer trainer(t.model_dir, ro);
    EXPECT_EQ(trainer.train(tiny_pairs(), resumed).steps, kTotalSteps - 3);
  }
  const std::string want = read_file(straight / "model.safetensors");
  EXPECT_TRUE(want == read_file(resumed / "model.safetensors")) << "output weights differ";
  EXPECT_FALSE(want == read_file(t.model_dir / "model.safetensors")) << "training changed nothing";
  for (const char* f : {"model.safetensors", "optimizer.safetensors", "trainer_state.json"}) {
    EXPECT_TRUE(read_file(straight / "checkpoints/checkpoint-6" / f) ==
                read_file(resumed / "checkpoints/checkpoint-6" / f))
        << "checkpoint-6/" << f << " differs";
  }
}

TEST(TrainBatches, NoDuplicatesDefersExamplesSharingATextAndKeepsTheRunLength) {
  TinyRun run("nodup");
  // Labels number the examples. With batch 2 in file order: {0, 3} (1 shares "the cat" with 0,
  // 2 shares "a cat sat" with 0), then {1, 2}, then {4}.
  const std::vector<Pair> pairs = {{"the cat", "a cat sat", 0},
                                   {"the cat", "a dog", 1},
                                   {"a bird", "a cat sat", 2},
                                   {"the sky", "the sun", 3},
                                   {"the big house", "a small car", 4}};
  PairList rows(pairs);
  TrainBatches batches(rows, run.model.tokenizer, run.model.files.max_seq_length, 2, kSeed, false,
                       true);
  EXPECT_EQ(batches.steps_per_epoch(), 3);
  const std::vector<std::vector<float>> want = {{0, 3}, {1, 2}, {4}, {0, 3}};
  for (std::int64_t step = 0; step < 4; step++) {
    const Batch& b = batches.at(step);
    EXPECT_EQ(b.labels, want[step]) << "step " << step;
    EXPECT_EQ(b.texts.size(), 2 * b.labels.size());
  }
  // Back to an earlier step, as a resumed run asks.
  EXPECT_EQ(batches.at(1).labels, want[1]);
  // Shuffled, every epoch still holds each example once and no batch repeats a text.
  TrainBatches shuffled(rows, run.model.tokenizer, run.model.files.max_seq_length, 2, kSeed, true,
                        true);
  std::vector<float> seen;
  for (std::int64_t step = 0; seen.size() < pairs.size(); step++) {
    const Batch& b = shuffled.at(step);
    std::set<std::string> texts;
    for (float label : b.labels) {
      const Pair& p = pairs[static_cast<std::size_t>(label)];
      EXPECT_TRUE(texts.insert(p.a).second && texts.insert(p.b).second) << "step " << step;
      seen.push_back(label);
    }
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<float>{0, 1, 2, 3, 4}));
}

// The sampler against the library's loop written out plainly (each batch scans what remains, in
// order, skipping examples that share a text with it), on data full of repeated texts.
TEST(TrainBatches, NoDuplicatesMatchesTheLibrarysLoopOnRepeatedTexts) {
  TinyRun run("nodup-many");
  std::mt19937 gen(7);
  std::uniform_int_distribution<int> word(0, 24);
  std::vector<Pair> pairs;
  for (int i = 0; i < 300; i++) {
    pairs.push_back(
        {"w" + std::to_string(word(gen)), "w" + std::to_string(word(gen)), static_cast<float>(i)});
  }
  PairList rows(pairs);
  for (std::size_t batch_size : {1u, 3u, 8u}) {
    std::vector<std::vector<float>> want;
    std::vector<int> remaining(pairs.size());
    std::iota(remaining.begin(), remaining.end(), 0);
    while (!remaining.empty()) {
      std::set<std::string> texts;
      std::vector<float> batch;
      std::vector<int> rest;
      for (int i : remaining) {
        const Pair& p = pairs[static_cast<std::size_t>(i)];
        if (batch.size() == batch_size || texts.count(p.a) > 0 || texts.count(p.b) > 0) {
          rest.push_back(i);
          continue;
        }
        batch.push_back(static_cast<float>(p.score));
        texts.insert(p.a);
        texts.insert(p.b);
      }
      want.push_back(batch);
      remaining = rest;
    }
    TrainBatches batches(rows, run.model.tokenizer, run.model.files.max_seq_length, batch_size,
                         kSeed, false, true);
    for (std::size_t step = 0; step < want.size(); step++) {
      ASSERT_EQ(batches.at(static_cast<std::int64_t>(step)).labels, want[step])
          << "batch size " << batch_size << ", step " << step;
    }
    EXPECT_EQ(batches.at(static_cast<std::int64_t>(want.size())).labels, want[0])
        << "the next epoch starts over";
  }
}

TEST(TrainBatches, HardNegativeColumnsFollowThePositives) {
  TinyRun run("columns");
  const std::vector<Pair> pairs = {{"the cat", "a cat sat", 0, {"the sky", "a dog"}},
                                   {"a bird", "the sun", 1, {"the big house", "a small car"}}};
  PairList rows(pairs);
  TrainBatches batches(rows, run.model.tokenizer, run.model.files.max_seq_length, 2, kSeed, false);
  EXPECT_EQ(batches.columns(), 4);
  const Batch& b = batches.at(0);
  ASSERT_EQ(b.texts.size(), 8u);
  const std::size_t max_length = run.model.files.max_seq_length;
  EXPECT_EQ(*b.texts[1], run.model.tokenizer.encode("a bird", max_length));
  EXPECT_EQ(*b.texts[2], run.model.tokenizer.encode("a cat sat", max_length));
  EXPECT_EQ(*b.texts[5], run.model.tokenizer.encode("the big house", max_length));
  EXPECT_EQ(*b.texts[7], run.model.tokenizer.encode("a small car", max_length));
  std::vector<Pair> ragged = pairs;
  ragged[1].negatives.pop_back();
  PairList ragged_rows(ragged);
  EXPECT_THROW(TrainBatches(ragged_rows, run.model.tokenizer, max_length, 2, kSeed, false), Error);
}

// ---------------------------------------------------------------------------------------------
// Evaluation policy.

TEST(EvalPolicy, EpochEndsEveryEvalStepsAndTheFinalStep) {
  // 5 steps an epoch, 12 steps in all (the last epoch cut short), evaluate every 2 steps.
  const EvalPolicy p(5, 12, 2);
  struct Want {
    std::int64_t done;
    bool due;
    int epoch;
    long steps;
  };
  for (const Want& w : std::vector<Want>{{1, false, 0, 0},
                                         {2, true, 0, 2},
                                         {3, false, 0, 0},
                                         {4, true, 0, 4},
                                         {5, true, 0, -1},  // epoch end (not "step 5")
                                         {6, true, 1, 1},
                                         {7, false, 0, 0},
                                         {8, true, 1, 3},
                                         {10, true, 1, -1},
                                         {11, false, 0, 0},
                                         {12, true, 2, -1}}) {  // the final step
    const auto at = p.due_after(w.done);
    ASSERT_EQ(at.has_value(), w.due) << "after " << w.done;
    if (!at) continue;
    EXPECT_EQ(at->epoch, w.epoch) << "after " << w.done;
    EXPECT_EQ(at->steps, w.steps) << "after " << w.done;
  }
  // Without eval_steps only epoch ends and the final step.
  const EvalPolicy epochs(4, 10, 0);
  std::vector<std::int64_t> due;
  for (std::int64_t done = 1; done <= 10; done++) {
    if (epochs.due_after(done)) due.push_back(done);
  }
  EXPECT_EQ(due, (std::vector<std::int64_t>{4, 8, 10}));
}

TEST(EvalPolicy, ImprovesKeepsTheMaximumAndIgnoresNaN) {
  EvalPolicy p(5, 10, 0);
  EXPECT_EQ(p.best(), -std::numeric_limits<double>::infinity());
  EXPECT_FALSE(p.improves(std::nan("")));
  EXPECT_TRUE(p.improves(-0.5));
  EXPECT_TRUE(p.improves(0.3));
  EXPECT_FALSE(p.improves(0.3));  // equal is no improvement
  EXPECT_FALSE(p.improves(0.1));
  EXPECT_FALSE(p.improves(std::nan("")));
  EXPECT_EQ(p.best(), 0.3);
  EXPECT_TRUE(p.improves(0.8));
  EXPECT_EQ(p.best(), 0.8);
  p.restore_best(0.9);
  EXPECT_FALSE(p.improves(0.85));
  EXPECT_TRUE(p.improves(0.95));
}

}  // namespace
}  // namespace simtune

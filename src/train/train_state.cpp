#include "train/train_state.h"

#include <cmath>
#include <cstdio>
#include <string>

#include "simtune/core/error.h"
#include "train/train_log.h"

namespace simtune {
namespace {

constexpr const char* kSparseTensor = "embeddings.word_embeddings.weight";

void check_finite(std::int64_t step, float loss, double norm) {
  if (std::isfinite(loss) && std::isfinite(norm)) return;
  // At the first step the weights are the ones loaded (checked finite), so the data or the
  // model's numerics are at fault; later, updates that grew too large are the usual cause.
  const std::string cause = step == 0 ? "the input pairs or the model overflow float32"
                                      : "the learning rate is probably too high (lower --lr)";
  throw Diverged("step " + std::to_string(step + 1) + ": the " +
                 (std::isfinite(loss) ? "gradient norm" : "loss") + " is " +
                 format_float(std::isfinite(loss) ? norm : loss) + "; training stopped: " + cause);
}

void scale(float* x, std::size_t n, float factor) {
  for (std::size_t i = 0; i < n; i++) x[i] *= factor;
}

}  // namespace

TrainState::TrainState(BertParams p, const BertConfig& config, AdamWConfig adam_config,
                       std::uint64_t seed)
    : params(std::move(p)),
      grads(params.layout, kSparseTensor),
      adam(params.layout, adam_config),
      dropout_rng(seed),
      weights(bert_weights(params.layout, config, params.values.data())),
      grad_weights(bert_weights(params.layout, config, grads.data())) {}

StepReport train_step(TrainState& s, StepSetup& setup, const Batch& batch) {
  s.grads.zero_for_batch(batch.texts);
  float loss = 0.0f;
  // A rank whose share of a small batch is empty still takes part in the gradient sum.
  if (!batch.texts.empty()) {
    const float* emb =
        setup.model.forward(batch.texts, s.weights, setup.dropout ? &s.dropout_rng : nullptr);
    float* d_emb = setup.model.zeroed_d_embeddings();
    loss = setup.loss.forward_backward(d_emb, emb, batch.labels.data(), batch.size(),
                                       setup.model.dimension());
    if (batch.weight != 1.0f) {
      loss *= batch.weight;
      scale(d_emb, batch.texts.size() * static_cast<std::size_t>(setup.model.dimension()),
            batch.weight);
    }
    setup.model.backward(s.grad_weights, s.weights);
  }
  if (setup.sync != nullptr) loss = setup.sync->all_reduce(s.grads, loss);
  const double norm = grad_norm(s.grads);
  check_finite(s.step, loss, norm);
  const float lr = static_cast<float>(setup.lr * setup.schedule.at(s.step));
  s.adam.step(s.params.values.data(), s.grads, lr, clip_scale(norm, setup.max_grad_norm));
  s.step++;

  StepReport report;
  report.step = s.step;
  report.loss = loss;
  report.lr = lr;
  report.grad_norm = norm;
  return report;
}

}  // namespace simtune

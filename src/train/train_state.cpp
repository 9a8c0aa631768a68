#include "train/train_state.h"

#include <cmath>
#include <cstdio>
#include <string>

#include "simtune/core/error.h"
#include "simtune/io/safetensors.h"
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

}  // namespace

float forward_backward(EmbeddingPass& model, Loss& loss, const Batch& batch,
                       const BertWeights& weights, const BertWeights& grads, Rng* rng,
                       EmbeddingGather* gather, const LayerDone* layer_done) {
  // A rank whose share of a small batch is empty still takes part in the gather.
  const bool any = batch.size() > 0;
  const float* emb = any ? model.forward(batch.texts, weights, rng) : nullptr;
  float* d_emb = any ? model.zeroed_d_embeddings() : nullptr;
  const float value = share_loss(loss, gather, d_emb, emb, batch, model.dimension());
  if (any) model.backward(grads, weights, layer_done);
  return value;
}

TrainState::TrainState(BertParams p, const BertConfig& config, AdamWConfig adam_config,
                       std::uint64_t seed, std::size_t loss_tensor_count)
    : params(std::move(p)),
      loss_tensors(loss_tensor_count),
      grads(params.layout, kSparseTensor),
      adam(params.layout, adam_config),
      dropout_rng(seed),
      weights(bert_weights(params.layout, config, params.values.data())),
      grad_weights(bert_weights(params.layout, config, grads.data())) {}

std::vector<TensorRef> TrainState::model_tensor_refs() const {
  std::vector<TensorRef> refs = params.tensor_refs();
  const auto first = refs.begin() + static_cast<std::ptrdiff_t>(params.layout.tensors.size());
  refs.erase(first - static_cast<std::ptrdiff_t>(loss_tensors), first);
  return refs;
}

std::vector<TensorRef> TrainState::loss_tensor_refs() const {
  std::vector<TensorRef> refs = params.tensor_refs();
  const auto end = refs.begin() + static_cast<std::ptrdiff_t>(params.layout.tensors.size());
  return {end - static_cast<std::ptrdiff_t>(loss_tensors), end};
}

std::size_t TrainState::loss_offset() const {
  const auto& tensors = params.layout.tensors;
  return loss_tensors == 0 ? params.layout.total : tensors[tensors.size() - loss_tensors].offset;
}

BertParams with_loss_tensors(BertParams params, const std::vector<ParamTensor>& loss_tensors) {
  const std::size_t base = params.layout.total;
  for (ParamTensor t : loss_tensors) {
    t.offset += base;
    params.layout.tensors.push_back(t);
    params.layout.total += t.numel;
  }
  params.values.resize(params.layout.total, 0.0f);
  return params;
}

void load_loss_tensors(const std::filesystem::path& path, TrainState& state) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  for (const TensorRef& t : state.loss_tensor_refs()) {
    const TensorInfo* info = file.find(t.name);
    if (info == nullptr || info->shape != t.shape) {
      std::string shape;
      for (std::int64_t d : t.shape) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
      throw Error(file.origin() + ": tensor '" + t.name + "' is missing or not of shape (" + shape +
                  ")");
    }
    const ParamTensor& p = state.params.layout.at(t.name);
    file.read_f32(*info, state.params.values.data() + p.offset);
  }
}

void init_loss_tensors(TrainState& state, const Loss& loss, const std::filesystem::path& init,
                       std::uint64_t seed) {
  if (state.loss_tensors == 0) return;
  if (!init.empty()) return load_loss_tensors(init, state);
  Rng rng(splitmix64(seed, 1));
  loss.init_parameters(state.params.values.data() + state.loss_offset(), rng);
}

StepReport train_step(TrainState& s, StepSetup& setup, const Batch& batch) {
  s.grads.zero_for_batch(batch.texts);
  Rng* rng = setup.dropout ? &s.dropout_rng : nullptr;
  float loss = setup.grad_cache != nullptr
                   ? setup.grad_cache->forward_backward(setup.model, setup.loss, batch, s.weights,
                                                        s.grad_weights, rng, setup.gather)
                   : forward_backward(setup.model, setup.loss, batch, s.weights, s.grad_weights,
                                      rng, setup.gather,
                                      setup.sync != nullptr ? setup.sync->layer_done() : nullptr);
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

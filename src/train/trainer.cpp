// The training facade. Trainer::train is the loop, one verb a line; everything it calls lives in
// its own file: the batches (batches.h), the step (train_state.h), the evaluation policy
// (eval_policy.h), checkpoints (checkpoint.h), the log (train_log.h), the model card
// (model_card.h) and the report's plots (report.h).
#include "simtune/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "simtune/core/error.h"
#include "simtune/core/file.h"
#include "simtune/core/rng.h"
#include "simtune/data/npy.h"
#include "simtune/dist/group.h"
#include "simtune/encode/encode_texts.h"
#include "simtune/encode/encoder.h"
#include "simtune/model/loader.h"
#include "simtune/train/losses.h"
#include "simtune/train/report.h"
#include "train/batches.h"
#include "train/checkpoint.h"
#include "train/eval_policy.h"
#include "train/loss.h"
#include "train/matryoshka_loss.h"
#include "train/model_card.h"
#include "train/train_log.h"
#include "train/train_state.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Options out of range are refused before the model is read.
TrainOptions validated(TrainOptions o) {
  validate(o);
  return o;
}

LoadOptions load_options(const TrainOptions& o) {
  LoadOptions load;
  load.weights_from = o.resume;
  return load;
}

// The settings a checkpoint must share with the run that resumes it.
RunIdentity run_identity(const TrainOptions& o) {
  return {o.batch_size, o.seed, o.shuffle, o.no_duplicates};
}

AdamWConfig adam_config(const TrainOptions& o) {
  AdamWConfig c;
  c.eps = o.adam_eps;
  c.weight_decay = o.weight_decay;
  return c;
}

// The teacher's embeddings a loss distils from (none for the others), checked against the data
// and the model.
Matrix teacher_embeddings(const TrainOptions& o, std::size_t examples, int dimension) {
  const bool wanted = loss_shape(o.loss).teacher;
  if (!wanted) {
    if (!o.teacher_embeddings.empty()) {
      throw Error("teacher embeddings are for MSELoss, not " + o.loss);
    }
    return {};
  }
  if (o.teacher_embeddings.empty()) {
    throw Error(o.loss + " needs teacher embeddings (a .npy, one row per training example)");
  }
  if (!o.matryoshka_dims.empty()) {
    throw Error("MatryoshkaLoss cannot wrap " + o.loss + ": its labels are full-size embeddings");
  }
  Matrix m = load_npy_matrix(o.teacher_embeddings);
  const std::string name = o.teacher_embeddings.string();
  if (m.rows != examples) {
    throw Error(name + ": " + std::to_string(m.rows) + " teacher embeddings for " +
                std::to_string(examples) + " training examples");
  }
  if (m.cols != static_cast<std::size_t>(dimension)) {
    throw Error(name + ": teacher embeddings of " + std::to_string(m.cols) +
                " values, but the model embeds in " + std::to_string(dimension));
  }
  return m;
}

// Pairs per second of the steps themselves, over about five seconds of them: setup,
// evaluations and saves between steps are not training (counted, the step after the dev
// evaluation at the start logged 2.4 pairs/s where the steps ran at 80).
class Throughput {
 public:
  double add(std::size_t pairs, double seconds) {
    pairs_ += pairs;
    seconds_ += seconds;
    const double rate = seconds_ > 0 ? static_cast<double>(pairs_) / seconds_ : 0.0;
    if (seconds_ > 5.0) pairs_ = 0, seconds_ = 0;
    return rate;
  }

 private:
  std::size_t pairs_ = 0;
  double seconds_ = 0;
};

// What a Trainer holds: the model and, from the first train() on, its training state.
struct Session {
  dist::Group& group;  // this rank and the others (alone without mpirun)
  TrainOptions options;
  LoadedModel model;
  fs::path base_model;
  // Made by train(): the loss's own tensors (SoftmaxLoss's classifier) are sized by the data.
  std::optional<TrainState> state;

  Session(const fs::path& model_dir, TrainOptions o)
      : group(dist::Group::world()),
        options(std::move(o)),
        model(load_model(model_dir.string(), load_options(options))),
        base_model(model_dir) {}
};

// The model's parameters with the loss's own tensors after them, at their initial values:
// --loss-init's, else drawn as the loss draws them from the seed (a checkpoint's replace both).
void make_state(Session& m, const Loss& loss) {
  const TrainOptions& o = m.options;
  const std::vector<ParamTensor> extra = loss.parameters();
  if (m.state) {
    if (m.state->loss_tensors != extra.size()) {
      throw Error("this Trainer's training state was made for another loss than " + o.loss);
    }
    return;
  }
  m.state.emplace(with_loss_tensors(std::move(m.model.params), extra), m.model.files.bert,
                  adam_config(o), o.seed, extra.size());
  init_loss_tensors(*m.state, loss, o.loss_init, o.seed);
}

// One call of Trainer::train: what the loop needs besides the TrainState. In data-parallel
// training every rank runs the loop, and rank 0 alone logs, evaluates, checkpoints and saves.
class Run {
 public:
  Run(Session& m, const Loss& loss, std::size_t pairs, std::int64_t steps_per_epoch,
      const fs::path& output, const EvalSet* dev);

  const TrainOptions& o;
  const std::int64_t steps_per_epoch, total;
  const LinearWarmup schedule;
  const Dropout dropout;
  EvalPolicy policy;
  TrainResult result;

  // A finished step of `pairs` examples that took `seconds`.
  void record(StepReport report, std::size_t pairs, double seconds);
  // Where to go back to after a divergence, for the error message.
  std::string resume_hint() const;
  // Whether the run evaluates at all (a dev set or other evaluators).
  bool evaluates() const { return dev_ != nullptr || !o.evaluators.empty(); }
  void evaluate_dev(EvalPoint at);
  void checkpoint_if_due();
  void finish(const EvalSet* test);

 private:
  json card_table() const;
  void check_weights_finite() const;
  void save_model();
  EvalRecord record_eval(const std::string& name, const SimilarityMetrics& metrics, EvalPoint at,
                         std::int64_t done);
  // The metric options.metric_for_best_model names (or the default) among `metrics`, every
  // evaluator's under "<evaluator>_<metric>".
  const Metric& best_model_metric(const Metrics& metrics) const;

  Session& m_;
  const Loss& loss_;
  const std::size_t pairs_;
  const fs::path output_;
  const EvalSet* dev_;
  TrainLog log_;
  Throughput throughput_;
  EncodeScratch eval_scratch_;  // evaluations encode as `simtune encode` would
  json card_extra_ = json::object();
  std::string default_metric_;  // the best model's metric without --metric-for-best-model
  fs::path last_checkpoint_;    // the newest this run wrote (each is checked finite first)
};

Run::Run(Session& m, const Loss& loss, std::size_t pairs, std::int64_t per_epoch,
         const fs::path& output, const EvalSet* dev)
    : o(m.options),
      steps_per_epoch(per_epoch),
      total(o.max_steps > 0 ? o.max_steps : per_epoch * o.epochs),
      schedule{o.warmup_steps >= 0 ? o.warmup_steps
                                   : static_cast<std::int64_t>(std::ceil(o.warmup_ratio * total)),
               total},
      dropout(o.dropout >= 0 ? Dropout{o.dropout, o.dropout}
                             : Dropout{m.model.files.bert.hidden_dropout_prob,
                                       m.model.files.bert.attention_probs_dropout_prob}),
      policy(per_epoch, total, o.eval_steps),
      m_(m),
      loss_(loss),
      pairs_(pairs),
      output_(output),
      dev_(dev),
      log_(m.group.root() ? o.log_file : fs::path(), m.state->step > 0),
      eval_scratch_(m.model.files) {
  if (m.group.root()) fs::create_directories(output_);
}

void Run::record(StepReport report, std::size_t pairs, double seconds) {
  result.last_loss = report.loss;
  if (!m_.group.root()) return;
  report.total_steps = total;
  report.epoch = static_cast<double>(report.step) / static_cast<double>(steps_per_epoch);
  report.pairs_per_s = throughput_.add(pairs, seconds);
  log_.step(report);
  if (o.on_step) o.on_step(report);
}

json Run::card_table() const {
  const std::int64_t done = m_.state->step;
  json c = {{"base model", m_.base_model.string()},
            {"training pairs", pairs_},
            {"loss", loss_.description()},
            {"epochs", format_float(static_cast<double>(done) / steps_per_epoch)},
            {"steps", done},
            {"batch size", o.batch_size},
            {"learning rate", format_float(o.lr)},
            {"warmup steps", schedule.warmup},
            {"weight decay", format_float(o.weight_decay)},
            {"max grad norm", format_float(o.max_grad_norm)},
            {"seed", o.seed},
            {"last batch loss", format_float(result.last_loss)}};
  c.update(card_extra_);
  return c;
}

std::string Run::resume_hint() const {
  if (last_checkpoint_.empty()) {
    return "; no checkpoint of this run holds finite weights to resume from";
  }
  return "; the last checkpoint, all finite: " + last_checkpoint_.string() +
         " (pass it to --resume with a lower --lr)";
}

// Never save NaN: a model that loads but embeds everything as NaN is worse than none.
void Run::check_weights_finite() const {
  const BertParams& p = m_.state->params;
  if (const ParamTensor* t = p.layout.first_non_finite(p.values.data())) {
    throw Diverged("step " + std::to_string(m_.state->step) + ": tensor \"" + t->name +
                   "\" became NaN or infinite after the update; training stopped: the "
                   "learning rate is probably too high (lower --lr)" +
                   resume_hint());
  }
}

void Run::save_model() {
  check_weights_finite();
  save_directory_atomic(output_, [&](const fs::path& staging) {
    write_model_directory(m_.model.files, staging, m_.state->model_tensor_refs());
    write_training_plots(staging, log_.steps(), result.evals);
    write_model_card(staging, output_.filename().string(), m_.model.files, card_table());
  });
}

EvalRecord Run::record_eval(const std::string& name, const SimilarityMetrics& metrics, EvalPoint at,
                            std::int64_t done) {
  append_metrics_csv((output_ / "eval").string(), name, at.epoch, at.steps, metrics);
  result.evals.push_back(
      {name, done, static_cast<double>(done) / static_cast<double>(steps_per_epoch), metrics});
  if (o.on_eval) o.on_eval(result.evals.back());
  return result.evals.back();
}

const Metric& Run::best_model_metric(const Metrics& metrics) const {
  std::string wanted = o.metric_for_best_model;
  if (wanted.starts_with("eval_")) wanted.erase(0, 5);
  for (const Metric& m : metrics) {
    if (m.name == wanted) return m;
  }
  // A bare metric name stands for the first evaluator's metric of that name.
  for (const Metric& m : metrics) {
    if (m.name.ends_with("_" + wanted)) return m;
  }
  std::string names;
  for (const Metric& m : metrics) names += (names.empty() ? "" : ", ") + m.name;
  throw Error("--metric-for-best-model " + o.metric_for_best_model +
              ": no evaluator gives it (they give: " + names + ")");
}

void Run::evaluate_dev(EvalPoint at) {
  if (!m_.group.root()) return;
  const std::int64_t done = m_.state->step;
  const double epoch = static_cast<double>(done) / static_cast<double>(steps_per_epoch);
  const PackedWeights packed = PackedWeights::every_layer(m_.state->weights, m_.model.files.bert);
  const EncodeModel model{m_.model.files, m_.model.tokenizer, m_.state->weights, packed};
  const EncodeFn encode = [&](const std::vector<std::string>& texts) {
    return encode_texts(model, eval_scratch_, texts, EncodeOptions{});
  };
  // Every metric of this evaluation under its library name, for best-model selection.
  Metrics all;
  if (dev_ != nullptr) {
    const SimilarityMetrics metrics = evaluate_pairs(encode, dev_->pairs);
    log_.eval(record_eval(dev_->name, metrics, at, done));
    for (const Metric& m : named_metrics(metrics)) {
      all.push_back({prefixed_metric(dev_->name, m.name), m.value});
    }
    if (default_metric_.empty()) default_metric_ = prefixed_metric(dev_->name, "spearman_cosine");
  }
  for (const auto& evaluator : o.evaluators) {
    const Metrics metrics = evaluator->evaluate(encode);
    evaluator->append_csv((output_ / "eval").string(), at.epoch, at.steps, metrics);
    log_.metrics(evaluator->name(), done, epoch, metrics);
    if (o.on_metrics) o.on_metrics(*evaluator, done, metrics);
    // Fixed at the first evaluation, as the library fixes its primary_metric.
    if (default_metric_.empty()) {
      default_metric_ = prefixed_metric(evaluator->name(), evaluator->primary_metric(metrics));
    }
    for (const Metric& m : metrics) {
      all.push_back({prefixed_metric(evaluator->name(), m.name), m.value});
    }
  }
  const bool chosen = !o.metric_for_best_model.empty();
  const Metric& best =
      chosen ? best_model_metric(all) : *std::find_if(all.begin(), all.end(), [&](const Metric& m) {
        return m.name == default_metric_;
      });
  if (!policy.improves(best.value)) return;
  // The default on a dev set keeps the card's wording of runs without other evaluators.
  card_extra_[!chosen && dev_ != nullptr ? "best " + dev_->name + " cosine Spearman"
                                         : "best eval_" + best.name] = format_float(policy.best());
  card_extra_["best model at step"] = done;
  save_model();
}

void Run::checkpoint_if_due() {
  const std::int64_t done = m_.state->step;
  if (!m_.group.root()) return;
  if (o.checkpoint_steps <= 0 || done % o.checkpoint_steps != 0 || done >= total) return;
  check_weights_finite();
  last_checkpoint_ = save_checkpoint(output_, m_.model.files, *m_.state, run_identity(o),
                                     policy.best(), o.checkpoint_limit);
}

void Run::finish(const EvalSet* test) {
  if (!m_.group.root()) return;
  if (!evaluates()) save_model();
  if (test == nullptr) return;
  // The test set scores the model the output holds: the best on dev, or the last.
  const Encoder best_model = Encoder::load(output_);
  const SimilarityMetrics metrics = evaluate_pairs(
      [&](const std::vector<std::string>& texts) { return best_model.encode(texts); }, test->pairs);
  log_.test(record_eval(test->name, metrics, EvalPoint{}, total));
  card_extra_[test->name + " cosine Spearman"] = format_float(metrics.cosine_spearman);
  write_training_plots(output_, log_.steps(), result.evals);
  write_model_card(output_, output_.filename().string(), m_.model.files, card_table());
}

}  // namespace

struct Trainer::Impl : Session {
  using Session::Session;
};

Trainer::Trainer(const fs::path& model_dir, TrainOptions options)
    : impl_(std::make_unique<Impl>(model_dir, validated(std::move(options)))) {}
Trainer::~Trainer() = default;

TrainResult Trainer::train(const std::vector<Pair>& pairs, const fs::path& output,
                           const EvalSet* dev, const EvalSet* test) {
  PairList list(pairs);
  return train(list, output, dev, test);
}

TrainResult Trainer::train(PairRows& pairs, const fs::path& output, const EvalSet* dev,
                           const EvalSet* test) {
  Impl& m = *impl_;
  const TrainOptions& o = m.options;
  if (pairs.size() == 0) throw Error("no training pairs");
  const bool gathers = m.group.size() > 1 && loss_shape(o.loss).batch_wide;
  // A batch larger than the data is one batch of all of it, as sentence-transformers' DataLoader
  // makes it; the run (model card, checkpoints) records the batch it really used.
  m.options.batch_size = std::min(o.batch_size, pairs.size());
  const Matrix teacher = teacher_embeddings(o, pairs.size(), m.model.files.embedding_dimension());
  TrainBatches batches(pairs, m.model.tokenizer, m.model.files.max_seq_length, o.batch_size, o.seed,
                       o.shuffle, o.no_duplicates, teacher.rows > 0 ? &teacher : nullptr,
                       m.group.rank(), m.group.size());
  std::unique_ptr<Loss> loss = make_loss(
      o.loss, batches.columns(),
      LossDims{loss_classes(o.loss, o.num_labels, pairs), m.model.files.embedding_dimension()});
  if (!loss->parameters().empty()) {
    if (!o.matryoshka_dims.empty()) {
      throw Error("MatryoshkaLoss cannot wrap " + o.loss +
                  ": its classifier takes full-size embeddings");
    }
  } else if (!o.loss_init.empty()) {
    throw Error("--loss-init is for a loss with parameters of its own (SoftmaxLoss), not " +
                o.loss);
  }
  make_state(m, *loss);
  TrainState& state = *m.state;
  loss->bind_parameters(state.params.values.data() + state.loss_offset(),
                        state.grads.data() + state.loss_offset());
  const double best = o.resume.empty() ? -std::numeric_limits<double>::infinity()
                                       : load_checkpoint(o.resume, state, run_identity(o));
  // Each rank draws its own dropout masks; the stream a checkpoint saves is rank 0's.
  if (m.group.rank() > 0) {
    state.dropout_rng =
        Rng(splitmix64(state.dropout_rng.next_u64(), static_cast<std::uint64_t>(m.group.rank())));
  }
  if (!o.matryoshka_dims.empty()) {
    loss =
        std::make_unique<MatryoshkaLoss>(std::move(loss), o.matryoshka_dims, o.matryoshka_weights,
                                         m.model.files.embedding_dimension());
  }
  Run run(m, *loss, pairs.size(), batches.steps_per_epoch(), output, dev);
  if (state.step > run.total) {
    throw Error(o.resume.string() + ": the checkpoint is at step " + std::to_string(state.step) +
                ", past this run's " + std::to_string(run.total) + " steps");
  }
  run.policy.restore_best(best);
  EmbeddingPass model(m.model.files, run.dropout);
  GradientSync sync(m.group, state.grads, state.params.layout, state.grad_weights.layers.size(),
                    o.overlap);
  GradCache grad_cache(o.mini_batch_size);
  EmbeddingGather gather(m.group);
  StepSetup setup{model,
                  *loss,
                  run.schedule,
                  o.lr,
                  o.max_grad_norm,
                  run.dropout.enabled(),
                  &sync,
                  loss_shape(o.loss).cached ? &grad_cache : nullptr,
                  gathers ? &gather : nullptr};

  const std::int64_t first_step = state.step;
  if (run.evaluates() && state.step == 0) run.evaluate_dev(EvalPoint{});
  const auto start = Clock::now();
  while (state.step < run.total) {
    const auto step_start = Clock::now();
    const Batch& batch = batches.at(state.step);
    StepReport report;
    try {
      report = train_step(state, setup, batch);
    } catch (const Diverged& e) {
      throw Diverged(e.what() + run.resume_hint());
    }
    run.record(report, batch.global_size,
               std::chrono::duration<double>(Clock::now() - step_start).count());
    if (const auto at = run.policy.due_after(state.step); at && run.evaluates()) {
      run.evaluate_dev(*at);
    }
    run.checkpoint_if_due();
  }
  run.result.steps = run.total - first_step;
  run.result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  run.finish(test);
  // Every rank returns with rank 0's output complete: Python's fit reloads the model from it.
  m.group.wait_for_all();
  return run.result;
}

}  // namespace simtune

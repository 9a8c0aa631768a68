#include "simtune/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <numeric>

#include <nlohmann/json.hpp>

#include "simtune/core/error.h"
#include "simtune/core/file.h"
#include "simtune/core/rng.h"
#include "simtune/core/zeroed_floats.h"
#include "simtune/encode/encode_texts.h"
#include "simtune/io/hub.h"
#include "simtune/io/model_files.h"
#include "simtune/model/params.h"
#include "simtune/text/tokenizer.h"
#include "simtune/train/report.h"
#include "train/optimizer.h"
#include "train/pair_loss.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kOptimizerFile = "optimizer.safetensors";
constexpr const char* kStateFile = "trainer_state.json";

// Epoch e's order: a Fisher-Yates shuffle from a generator seeded by (seed, e), so any epoch's
// order can be rebuilt on resume without replaying earlier ones.
std::vector<std::size_t> epoch_order(std::size_t n, std::uint64_t seed, std::int64_t epoch,
                                     bool shuffle) {
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  if (!shuffle) return order;
  Rng rng(seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(epoch) + 1);
  for (std::size_t i = n; i > 1; i--) {
    std::swap(order[i - 1], order[rng.next_u64() % i]);
  }
  return order;
}

// Zeroes the gradients before a step: all but the embedding matrix, and of that only the rows
// the last batch wrote (rows.batch still names them).
void zero_gradients(float* grads, std::size_t n, const EmbeddingRows& rows) {
  std::fill(grads, grads + rows.offset, 0.0f);
  std::fill(grads + rows.end(), grads + n, 0.0f);
  for (std::int32_t r : rows.batch) {
    std::fill_n(grads + rows.offset + static_cast<std::size_t>(r) * rows.width, rows.width, 0.0f);
  }
}

std::string format_float(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

struct Trainer::Impl {
  TrainOptions options;
  ModelFiles files;
  Tokenizer tokenizer;
  BertParams params;
  ZeroedFloats grads;
  std::filesystem::path base_model;

  Impl(const fs::path& model_dir, TrainOptions o)
      : options(std::move(o)),
        files(load_model_files(resolve_model(model_dir.string()))),
        tokenizer(Tokenizer::from_directory(files.transformer_dir)),
        params(BertParams::load(
            options.resume.empty() ? files.weights : options.resume / "model.safetensors",
            files.bert)),
        grads(params.layout.total),
        base_model(model_dir) {}

  void save_model(const fs::path& out, const json& card, const std::vector<StepReport>& steps,
                  const std::vector<EvalRecord>& evals) const;
  void write_card(const fs::path& out, const json& card) const;
  void save_checkpoint(const fs::path& output, std::int64_t step, const AdamW& adam,
                       const Rng& rng) const;
  std::int64_t load_checkpoint(AdamW& adam, Rng& rng) const;
};

void Trainer::Impl::save_model(const fs::path& out, const json& card,
                               const std::vector<StepReport>& steps,
                               const std::vector<EvalRecord>& evals) const {
  write_model_directory(files, out, params.tensor_refs());
  write_training_plots(out, steps, evals);
  write_card(out, card);
}

void Trainer::Impl::write_card(const fs::path& out, const json& card) const {
  std::string readme =
      "---\nlibrary_name: sentence-transformers\npipeline_tag: sentence-similarity\n"
      "tags:\n- sentence-transformers\n- sentence-similarity\n---\n\n"
      "# Fine-tuned with simtune\n\n";
  readme +=
      "This is a [sentence-transformers](https://www.sbert.net) model: it maps sentences to a " +
      std::to_string(files.pooling.output_dimension()) +
      "-dimensional vector space. Load it with `SentenceTransformer(\"" + out.filename().string() +
      "\")` or `simtune encode --model " + out.filename().string() + "`.\n\n## Training\n\n";
  readme += "| | |\n|---|---|\n";
  for (const auto& [key, value] : card.items()) {
    readme +=
        "| " + key + " | " + (value.is_string() ? value.get<std::string>() : value.dump()) + " |\n";
  }
  // The report's plots, as far as they exist yet (no loss plot before the first step).
  const std::pair<const char*, const char*> plots[] = {
      {"loss.svg", "Training loss"}, {"lr.svg", "Learning rate"}, {"eval.svg", "Evaluation"}};
  bool heading = false;
  for (const auto& [file, title] : plots) {
    if (!fs::exists(out / file)) continue;
    if (!heading) readme += "\n## Training report\n\n";
    heading = true;
    readme += std::string("![") + title + "](" + file + ")\n\n";
  }
  write_file_atomic(out / "README.md", readme);
}

void Trainer::Impl::save_checkpoint(const fs::path& output, std::int64_t step, const AdamW& adam,
                                    const Rng& rng) const {
  const fs::path root = output / "checkpoints";
  const fs::path final_dir = root / ("checkpoint-" + std::to_string(step));
  const fs::path tmp = root / ("checkpoint-" + std::to_string(step) + ".partial");
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  write_model_directory(files, tmp, params.tensor_refs());
  std::vector<TensorRef> moments;
  for (const auto& t : params.layout.tensors) {
    moments.push_back({"exp_avg." + t.name, t.shape, adam.m() + t.offset});
    moments.push_back({"exp_avg_sq." + t.name, t.shape, adam.v() + t.offset});
  }
  save_safetensors(tmp / kOptimizerFile, moments);
  json state = {{"step", step}, {"seed", options.seed}, {"adam_steps", adam.steps()}};
  json rng_state = json::array();
  for (auto word : rng.state()) rng_state.push_back(std::to_string(word));
  state["dropout_rng"] = rng_state;
  state["batch_size"] = options.batch_size;
  state["shuffle"] = options.shuffle;
  write_file_atomic(tmp / kStateFile, state.dump(2) + "\n");
  // The directory appears under its final name only once complete.
  fs::remove_all(final_dir);
  fs::rename(tmp, final_dir);

  std::vector<std::pair<std::int64_t, fs::path>> existing;
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("checkpoint-", 0) == 0 && name.find('.') == std::string::npos) {
      existing.emplace_back(std::stoll(name.substr(11)), entry.path());
    }
  }
  std::sort(existing.begin(), existing.end());
  const std::size_t keep = static_cast<std::size_t>(std::max(1, options.checkpoint_limit));
  for (std::size_t i = 0; i + keep < existing.size(); i++) fs::remove_all(existing[i].second);
}

std::int64_t Trainer::Impl::load_checkpoint(AdamW& adam, Rng& rng) const {
  const fs::path state_path = options.resume / kStateFile;
  json state;
  try {
    state = json::parse(read_file(state_path));
    if (state.at("batch_size").get<std::size_t>() != options.batch_size ||
        state.at("shuffle").get<bool>() != options.shuffle ||
        state.at("seed").get<std::uint64_t>() != options.seed) {
      throw Error(state_path.string() +
                  ": the checkpoint was made with another --batch-size, --seed or shuffle setting");
    }
    std::array<std::uint64_t, 4> words{};
    for (int i = 0; i < 4; i++)
      words[i] = std::stoull(state.at("dropout_rng").at(i).get<std::string>());
    rng.set_state(words);
    adam.set_steps(state.at("adam_steps").get<std::int64_t>());
  } catch (const json::exception& e) {
    throw Error(state_path.string() + ": not a simtune checkpoint state: " + e.what());
  }
  const SafetensorsFile moments = SafetensorsFile::open(options.resume / kOptimizerFile);
  for (const auto& t : params.layout.tensors) {
    for (auto [prefix, buffer] :
         {std::pair{"exp_avg.", adam.m()}, std::pair{"exp_avg_sq.", adam.v()}}) {
      const TensorInfo* info = moments.find(prefix + t.name);
      if (info == nullptr || static_cast<std::size_t>(info->numel()) != t.numel) {
        throw Error(moments.origin() + ": tensor '" + prefix + t.name +
                    "' is missing or mis-shaped");
      }
      moments.read_f32(*info, buffer + t.offset);
    }
  }
  return state.at("step").get<std::int64_t>();
}

Trainer::Trainer(const fs::path& model_dir, TrainOptions options)
    : impl_(std::make_unique<Impl>(model_dir, std::move(options))) {}
Trainer::~Trainer() = default;

TrainResult Trainer::train(const std::vector<Pair>& pairs, const fs::path& output,
                           const EvalSet* dev, const EvalSet* test) {
  Impl& m = *impl_;
  const TrainOptions& o = m.options;
  if (pairs.empty()) throw Error("no training pairs");
  if (o.batch_size == 0) throw Error("batch size must be at least 1");

  // Tokenize once; every epoch reuses the ids.
  std::vector<std::vector<std::int32_t>> ids_a(pairs.size()), ids_b(pairs.size());
  for (std::size_t i = 0; i < pairs.size(); i++) {
    ids_a[i] = m.tokenizer.encode(pairs[i].a, m.files.max_seq_length);
    ids_b[i] = m.tokenizer.encode(pairs[i].b, m.files.max_seq_length);
  }
  const std::int64_t steps_per_epoch =
      static_cast<std::int64_t>((pairs.size() + o.batch_size - 1) / o.batch_size);
  const std::int64_t total = o.max_steps > 0 ? o.max_steps : steps_per_epoch * o.epochs;
  const std::int64_t warmup = o.warmup_steps >= 0
                                  ? o.warmup_steps
                                  : static_cast<std::int64_t>(std::ceil(o.warmup_ratio * total));
  const Dropout dropout = o.dropout >= 0 ? Dropout{o.dropout, o.dropout}
                                         : Dropout{m.files.bert.hidden_dropout_prob,
                                                   m.files.bert.attention_probs_dropout_prob};

  // The model card's training table; `extra` adds evaluation results.
  auto card = [&](std::int64_t steps_done, float last_loss, const json& extra) {
    json c = {{"base model", m.base_model.string()},
              {"training pairs", pairs.size()},
              {"loss", "CosineSimilarityLoss (MSE of cosine similarity and label)"},
              {"epochs", format_float(static_cast<double>(steps_done) / steps_per_epoch)},
              {"steps", steps_done},
              {"batch size", o.batch_size},
              {"learning rate", format_float(o.lr)},
              {"warmup steps", warmup},
              {"weight decay", format_float(o.weight_decay)},
              {"max grad norm", format_float(o.max_grad_norm)},
              {"seed", o.seed},
              {"last batch loss", format_float(last_loss)}};
    c.update(extra);
    return c;
  };

  AdamWConfig adam_config;
  adam_config.eps = o.adam_eps;
  adam_config.weight_decay = o.weight_decay;
  AdamW adam(m.params.layout, adam_config);
  Rng dropout_rng(o.seed);
  std::int64_t step = o.resume.empty() ? 0 : m.load_checkpoint(adam, dropout_rng);
  const std::int64_t first_step = step;

  const BertWeights weights = bert_weights(m.params.layout, m.files.bert, m.params.values.data());
  const BertWeights grad_view = bert_weights(m.params.layout, m.files.bert, m.grads.data());
  EmbeddingRows rows(m.params.layout.at("embeddings.word_embeddings.weight"));
  if (step > 0) rows.mark_rows_with_moments(adam.m(), adam.v());
  PairLoss pair_loss(m.files, dropout);
  TrainResult result;
  std::ofstream log;
  if (!o.log_file.empty()) {
    log.open(o.log_file, step > 0 ? std::ios::app : std::ios::trunc);
    if (!log) throw Error(o.log_file.string() + ": cannot open log file");
  }
  fs::create_directories(output);

  std::vector<StepReport> history;  // for the report's plots
  history.reserve(static_cast<std::size_t>(total - step));
  std::vector<const std::vector<std::int32_t>*> a, b;
  std::vector<float> labels;
  std::vector<std::size_t> order;
  std::int64_t order_epoch = -1;

  // Evaluations encode exactly as `simtune encode` would the weights as they are now.
  EncodeScratch eval_scratch(m.files.bert);
  auto log_line = [&](const json& line) {
    if (log.is_open()) log << line.dump() << "\n" << std::flush;
  };
  double best = -std::numeric_limits<double>::infinity();
  json card_extra = json::object();
  auto evaluate = [&](const EvalSet& set, std::int64_t done, int csv_epoch, long csv_steps) {
    const std::vector<PackedLayer> packed = pack_layers(weights, m.files.bert);
    const EncodeModel model{m.files, m.tokenizer, weights, packed};
    const SimilarityMetrics metrics = evaluate_pairs(
        [&](const std::vector<std::string>& texts) {
          return encode_texts(model, eval_scratch, texts, EncodeOptions{});
        },
        set.pairs);
    append_metrics_csv((output / "eval").string(), set.name, csv_epoch, csv_steps, metrics);
    const double epoch = static_cast<double>(done) / static_cast<double>(steps_per_epoch);
    result.evals.push_back({set.name, done, epoch, metrics});
    log_line({{"eval", set.name},
              {"step", done},
              {"epoch", epoch},
              {"cosine_pearson", metrics.cosine_pearson},
              {"cosine_spearman", metrics.cosine_spearman},
              {"euclidean_spearman", metrics.euclidean_spearman},
              {"manhattan_spearman", metrics.manhattan_spearman},
              {"dot_spearman", metrics.dot_spearman}});
    if (o.on_eval) o.on_eval(result.evals.back());
    return metrics.main_score();
  };
  auto save_if_best = [&](double score, std::int64_t done) {
    if (!(score > best)) return;
    best = score;
    card_extra["best " + dev->name + " cosine Spearman"] = format_float(score);
    card_extra["best model at step"] = done;
    m.save_model(output, card(done, result.last_loss, card_extra), history, result.evals);
  };
  if (dev != nullptr && step == 0) save_if_best(evaluate(*dev, 0, -1, -1), 0);
  const auto start = std::chrono::steady_clock::now();
  auto window_start = start;
  std::size_t window_pairs = 0;
  for (; step < total; step++) {
    const std::int64_t epoch = step / steps_per_epoch;
    if (epoch != order_epoch) {
      order = epoch_order(pairs.size(), o.seed, epoch, o.shuffle);
      order_epoch = epoch;
    }
    const std::size_t begin = static_cast<std::size_t>(step % steps_per_epoch) * o.batch_size;
    const std::size_t end = std::min(pairs.size(), begin + o.batch_size);
    zero_gradients(m.grads.data(), m.grads.size(), rows);
    a.clear();
    b.clear();
    labels.clear();
    for (std::size_t k = begin; k < end; k++) {
      a.push_back(&ids_a[order[k]]);
      b.push_back(&ids_b[order[k]]);
      labels.push_back(static_cast<float>(pairs[order[k]].score));
    }

    rows.set_batch(a, b);
    const float loss = pair_loss.forward_backward(a, b, labels, weights, grad_view,
                                                  dropout.enabled() ? &dropout_rng : nullptr);
    const double norm = clip_grad_norm(m.grads.data(), m.grads.size(), o.max_grad_norm, rows);
    if (!std::isfinite(loss) || !std::isfinite(norm)) {
      throw Error("step " + std::to_string(step + 1) + ": the " +
                  (std::isfinite(loss) ? "gradient norm" : "loss") + " is " +
                  format_float(std::isfinite(loss) ? norm : loss) +
                  "; training stopped (lower --lr, or resume from the last checkpoint)");
    }
    const float lr = static_cast<float>(o.lr * warmup_linear(step, warmup, total));
    adam.step(m.params.values.data(), m.grads.data(), lr, rows);

    const auto now = std::chrono::steady_clock::now();
    window_pairs += end - begin;
    const double window_s = std::chrono::duration<double>(now - window_start).count();
    StepReport report;
    report.step = step + 1;
    report.total_steps = total;
    report.epoch = static_cast<double>(step + 1) / static_cast<double>(steps_per_epoch);
    report.loss = loss;
    report.lr = lr;
    report.grad_norm = norm;
    report.pairs_per_s = window_s > 0 ? static_cast<double>(window_pairs) / window_s : 0.0;
    if (window_s > 5.0) window_start = now, window_pairs = 0;
    if (log.is_open()) {
      log << json{{"step", report.step}, {"epoch", report.epoch},
                  {"loss", report.loss}, {"lr", report.lr},
                  {"grad_norm", norm},   {"pairs_per_s", report.pairs_per_s}}
                 .dump()
          << "\n";
      log.flush();
    }
    history.push_back(report);
    if (o.on_step) o.on_step(report);
    result.last_loss = loss;
    const std::int64_t done = step + 1;
    if (dev != nullptr) {
      const bool epoch_end = done % steps_per_epoch == 0 || done == total;
      const std::int64_t in_epoch = done - epoch * steps_per_epoch;
      if (epoch_end) {
        save_if_best(evaluate(*dev, done, static_cast<int>(epoch), -1), done);
      } else if (o.eval_steps > 0 && done % o.eval_steps == 0) {
        save_if_best(evaluate(*dev, done, static_cast<int>(epoch), static_cast<long>(in_epoch)),
                     done);
      }
    }
    if (o.checkpoint_steps > 0 && done % o.checkpoint_steps == 0 && done < total) {
      m.save_checkpoint(output, done, adam, dropout_rng);
    }
  }
  result.steps = total - first_step;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (dev == nullptr) {
    m.save_model(output, card(total, result.last_loss, card_extra), history, result.evals);
  }
  if (test != nullptr) {
    // The test set scores the model `output` holds: the best on dev, or the last.
    const Encoder best_model = Encoder::load(output);
    const SimilarityMetrics metrics = evaluate_pairs(
        [&](const std::vector<std::string>& texts) { return best_model.encode(texts); },
        test->pairs);
    append_metrics_csv((output / "eval").string(), test->name, -1, -1, metrics);
    result.evals.push_back(
        {test->name, total, static_cast<double>(total) / steps_per_epoch, metrics});
    log_line({{"eval", test->name},
              {"cosine_pearson", metrics.cosine_pearson},
              {"cosine_spearman", metrics.cosine_spearman}});
    if (o.on_eval) o.on_eval(result.evals.back());
    card_extra[test->name + " cosine Spearman"] = format_float(metrics.cosine_spearman);
    write_training_plots(output, history, result.evals);
    m.write_card(output, card(total, result.last_loss, card_extra));
  }
  return result;
}

}  // namespace simtune

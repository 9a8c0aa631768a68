// simtune bench: throughput of encode and train, each also given as a share of this machine's
// measured peak (bench peak) on the same threads, with the instruction set that ran and the
// process's own memory high-water mark.
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "simtune/core/blas.h"
#include "simtune/core/cpu.h"
#include "simtune/core/error.h"
#include "simtune/core/matmul.h"
#include "simtune/core/peak.h"
#include "simtune/data/pairs.h"
#include "simtune/dist/group.h"
#include "simtune/eval/information_retrieval.h"
#include "simtune/model/loader.h"
#include "simtune/train/losses.h"
#include "simtune/train/trainer.h"

namespace simtune::cli {
namespace {

using nlohmann::json;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The process's own peak resident memory (VmHWM). getrusage's ru_maxrss would do on its own,
// but Linux carries it across exec, so a bench started from a large parent reports the parent's.
double peak_rss_mib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // in kB
  }
  return 0;
}

// The instruction set that ran, the CPU, and `gflops` as a share of the measured peak.
json machine(double gflops) {
  const PeakRate peak = measure_peak(active_isa());
  return {{"isa", isa_name(active_isa())},
          {"cpu", cpu_description()},
          {"threads", peak.threads},
          {"peak_gflop_per_s", peak.gflops},
          {"peak_share", gflops / peak.gflops}};
}

void print(const json& result, bool as_json) {
  if (as_json) {
    std::printf("%s\n", result.dump().c_str());
    return;
  }
  for (const auto& [key, value] : result.items()) {
    std::printf("%-20s %s\n", key.c_str(),
                value.is_string() ? value.get<std::string>().c_str() : value.dump().c_str());
  }
}

// Forward flops of a sequence of T tokens: each layer's four products, and attention's two
// (q.k and p.v). Training does about three times this (backward computes two products per
// forward one).
double forward_flops(const BertConfig& c, double T) {
  const double C = c.hidden_size, I = c.intermediate_size;
  return c.num_hidden_layers * (T * 2.0 * (4.0 * C * C + 2.0 * C * I) + 4.0 * T * T * C);
}

// The three products of a Linear layer: forward (weights packed, as inference reads them, or in
// place, as training does), input gradient, weight gradient.
enum class Role { forward, forward_in_place, dinp, dweight };

// Who computes a product: simtune's kernel, or a reference library's sgemm (blas.h).
struct Engine {
  bool simtune;
  Blas blas;
};

// GFLOP/s of one role of a BERT layer's four Linear layers (qkv, attention output, intermediate,
// output) on n packed tokens.
double layer_gflops(Role role, Engine engine, int n, int C, int I, int repeat) {
  const std::pair<int, int> shapes[] = {{C, 3 * C}, {C, C}, {C, I}, {I, C}};  // (in, out)
  const std::size_t widest = static_cast<std::size_t>(std::max(3 * C, I));
  std::vector<float> x(static_cast<std::size_t>(n) * widest, 0.5f);
  std::vector<float> y(static_cast<std::size_t>(n) * widest, 0.25f);
  std::vector<float> w(widest * widest, 0.125f);
  std::vector<PackedMatrix> packed;
  for (auto [in, out] : shapes) {
    packed.push_back(role == Role::forward_in_place ? PackedMatrix::in_place(w.data(), out, in)
                                                    : PackedMatrix(w.data(), out, in));
  }
  const bool ours = engine.simtune;
  const Blas blas = engine.blas;
  auto once = [&] {
    for (std::size_t i = 0; i < packed.size(); i++) {
      const auto [in, out] = shapes[i];
      if (role == Role::forward || role == Role::forward_in_place) {
        ours ? matmul_packed(y.data(), x.data(), packed[i], n)
             : matmul_nt(y.data(), x.data(), w.data(), n, in, out, false, blas);
      } else if (role == Role::dinp) {
        ours ? matmul_dinp(x.data(), y.data(), w.data(), n, in, out, Into::add)
             : matmul_nn(x.data(), y.data(), w.data(), n, out, in, true, blas);
      } else {
        ours ? matmul_dweight(w.data(), y.data(), x.data(), n, in, out)
             : matmul_tn(w.data(), y.data(), x.data(), n, out, in, true, blas);
      }
    }
  };
  once();
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < repeat; r++) once();
  const double flops = 2.0 * n * (3.0 * C * C + C * C + 2.0 * C * I) * repeat;
  return flops / seconds_since(t0) / 1e9;
}

struct EncodeArgs {
  std::string model, input;
  std::size_t batch_size = 32;
  int threads = 0, repeat = 3;
  bool json = false;
};

json bench_encode(const EncodeArgs& args) {
  const std::vector<std::string> lines = read_lines(args.input, false);
  if (lines.empty()) throw Error(args.input + ": no sentences to benchmark");
  Encoder encoder = Encoder::load(args.model);
  const BertConfig& config = encoder.files().bert;
  std::size_t tokens = 0;
  double flops = 0;
  for (const auto& line : lines) {
    const std::size_t T = encoder.tokenizer().encode(line, encoder.max_seq_length()).size();
    tokens += T;
    flops += forward_flops(config, static_cast<double>(T));
  }
  EncodeOptions options;
  options.batch_size = args.batch_size;
  encoder.encode({lines.begin(), lines.begin() + std::min<std::size_t>(lines.size(), 64)}, options);
  double best = 1e30;
  for (int r = 0; r < args.repeat; r++) {
    const auto t0 = std::chrono::steady_clock::now();
    encoder.encode(lines, options);
    best = std::min(best, seconds_since(t0));
  }
  const double achieved = flops / best / 1e9;
  const int batch_tokens =
      std::max(1, static_cast<int>(static_cast<double>(tokens) / lines.size() * args.batch_size));
  const int C = config.hidden_size, I = config.intermediate_size;
  const double sgemm = layer_gflops(Role::forward, {false, Blas::openblas}, batch_tokens, C, I, 20);
  const double kernel = layer_gflops(Role::forward, {true, Blas::openblas}, batch_tokens, C, I, 20);
  json result = {{"sentences", lines.size()},
                 {"tokens", tokens},
                 {"batch_size", args.batch_size},
                 {"seconds", best},
                 {"sentences_per_s", lines.size() / best},
                 {"tokens_per_s", tokens / best},
                 {"model_gflop_per_s", achieved},
                 {"kernel_gflop_per_s", kernel},
                 {"openblas_sgemm_gflop_per_s", sgemm}};
  result.update(machine(achieved));
  result["peak_rss_mib"] = peak_rss_mib();
  return result;
}

void add_bench_encode(CLI::App* bench) {
  auto args = std::make_shared<EncodeArgs>();
  CLI::App* cmd = bench->add_subcommand(
      "encode", "Sentences/s of encode on the input lines, as a share of the machine's peak");
  cmd->add_option("--model", args->model, "Model directory")->required();
  cmd->add_option("--input", args->input, "Text file, one sentence per line")->required();
  cmd->add_option("--batch-size", args->batch_size, "Sentences per forward pass")
      ->capture_default_str()
      ->check(bounded(1, kMaxBatch));
  add_threads_option(cmd, args->threads);
  cmd->add_option("--repeat", args->repeat, "Timed passes over the input (best is reported)")
      ->capture_default_str()
      ->check(bounded(1, kMaxCount));
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args] {
    set_num_threads(args->threads);
    print(bench_encode(*args), args->json);
  });
}

struct TrainArgs {
  std::string model, train;
  TrainOptions options;
  PairFileOptions pairs;
  int threads = 0, steps = 30, warmup = 3;
  bool json = false, no_overlap = false;
};

// Forward flops of the steps [first, first + steps): batches in file order, as the bench runs.
double train_forward_flops(const TrainArgs& args, const std::vector<Pair>& pairs) {
  LoadOptions load;
  load.with_weights = false;
  const LoadedModel model = load_model(args.model, load);
  const std::size_t B = args.options.batch_size;
  const std::size_t per_epoch = (pairs.size() + B - 1) / B;
  double flops = 0;
  for (int s = args.warmup; s < args.warmup + args.steps; s++) {
    const std::size_t begin = static_cast<std::size_t>(s) % per_epoch * B;
    for (std::size_t i = begin; i < std::min(pairs.size(), begin + B); i++) {
      for (const std::string* text : {&pairs[i].a, &pairs[i].b}) {
        const auto T = model.tokenizer.encode(*text, model.files.max_seq_length).size();
        flops += forward_flops(model.files.bert, static_cast<double>(T));
      }
    }
  }
  return flops;
}

json bench_train(const TrainArgs& args) {
  const PairData data =
      load_pairs(args.train, with_loss_shape(args.pairs, loss_shape(args.options.loss)));
  TrainOptions options = args.options;
  options.shuffle = false;
  options.max_steps = args.warmup + args.steps;
  // The timed window runs from the end of the last warm-up step to the end of the last step.
  using clock = std::chrono::steady_clock;
  clock::time_point window_start = clock::now(), window_end = window_start;
  options.on_step = [&](const StepReport& r) {
    if (r.step == args.warmup) window_start = clock::now();
    if (r.step == r.total_steps) window_end = clock::now();
  };
  const std::filesystem::path scratch =
      std::filesystem::temp_directory_path() / ("simtune-bench-" + std::to_string(::getpid()));
  Trainer trainer(args.model, options);
  try {
    trainer.train(data.pairs, scratch);
  } catch (...) {
    std::filesystem::remove_all(scratch);
    throw;
  }
  std::filesystem::remove_all(scratch);
  const double seconds = std::chrono::duration<double>(window_end - window_start).count();
  const double pairs = static_cast<double>(args.steps) * static_cast<double>(options.batch_size);
  const double gflops = 3.0 * train_forward_flops(args, data.pairs) / seconds / 1e9;
  json result = {{"loss", options.loss},
                 {"steps", args.steps},
                 {"batch_size", options.batch_size},
                 {"seconds", seconds},
                 {"pairs_per_s", pairs / seconds},
                 {"model_gflop_per_s", gflops}};
  result.update(machine(gflops));
  result["peak_rss_mib"] = peak_rss_mib();
  return result;
}

void add_bench_train(CLI::App* bench) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = bench->add_subcommand(
      "train", "Pairs/s and peak memory of training steps (batches in file order, no saving)");
  cmd->add_option("--model", args->model, "Model directory")->required();
  cmd->add_option("--train", args->train, "Pairs file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--batch-size", args->options.batch_size)
      ->capture_default_str()
      ->check(unsigned_integer());
  cmd->add_option("--steps", args->steps, "Timed steps")
      ->capture_default_str()
      ->check(bounded(1, kMaxCount));
  cmd->add_option("--warmup", args->warmup, "Untimed steps first")
      ->capture_default_str()
      ->check(bounded(0, kMaxCount));
  cmd->add_option("--dropout", args->options.dropout, "Dropout (default: config.json's)");
  std::vector<std::string> loss_names;
  for (const LossShape& l : loss_shapes()) loss_names.push_back(l.name);
  cmd->add_option("--loss", args->options.loss, "A loss of simtune train --loss")
      ->capture_default_str()
      ->check(CLI::IsMember(loss_names));
  cmd->add_option("--mini-batch-size", args->options.mini_batch_size,
                  "Texts per forward pass of a cached loss")
      ->capture_default_str()
      ->check(unsigned_integer());
  cmd->add_option("--score-scale", args->pairs.score_scale)
      ->capture_default_str()
      ->check(bounded(0, kMaxFloat, Bound::open));
  cmd->add_flag("--no-overlap", args->no_overlap,
                "Under mpirun, exchange the gradients after backward (as simtune train)");
  add_threads_option(cmd, args->threads);
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args] {
    args->options.overlap = !args->no_overlap;
    check_options(args->options);
    set_num_threads(args->threads);
    const json result = bench_train(*args);
    // Under mpirun every rank trains its share; rank 0 speaks for the job.
    if (dist::Group::world().root()) print(result, args->json);
  });
}

void add_bench_matmul(CLI::App* bench) {
  struct Args {
    int tokens = 640, hidden = 384, intermediate = 1536, threads = 0, repeat = 20;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = bench->add_subcommand(
      "matmul",
      "GFLOP/s of a BERT layer's products (forward, input and weight gradients): "
      "simtune's kernel against OpenBLAS's sgemm and, where libdnnl.so.2 is installed, oneDNN's, "
      "and as shares of the peak");
  cmd->add_option("--tokens", args->tokens, "Packed tokens (rows)")
      ->capture_default_str()
      ->check(bounded(1, 1 << 16));
  cmd->add_option("--hidden", args->hidden)->capture_default_str()->check(bounded(1, 1 << 14));
  cmd->add_option("--intermediate", args->intermediate)
      ->capture_default_str()
      ->check(bounded(1, 1 << 16));
  cmd->add_option("--repeat", args->repeat)->capture_default_str()->check(bounded(1, kMaxCount));
  add_threads_option(cmd, args->threads);
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args] {
    set_num_threads(args->threads);
    const double peak = measure_peak(active_isa()).gflops;
    json result = {
        {"isa", isa_name(active_isa())}, {"tokens", args->tokens}, {"peak_gflop_per_s", peak}};
    const std::pair<Role, const char*> roles[] = {{Role::forward, "forward"},
                                                  {Role::forward_in_place, "forward_in_place"},
                                                  {Role::dinp, "dinp"},
                                                  {Role::dweight, "dweight"}};
    std::vector<std::pair<Engine, std::string>> engines = {{{true, Blas::openblas}, "simtune"}};
    for (Blas blas : {Blas::openblas, Blas::onednn}) {
      if (blas_available(blas)) engines.push_back({{false, blas}, blas_name(blas)});
    }
    for (const auto& [role, name] : roles) {
      for (const auto& [engine, engine_name] : engines) {
        // The libraries have one forward: the weight as stored.
        if (role == Role::forward_in_place && !engine.simtune) continue;
        const double g = layer_gflops(role, engine, args->tokens, args->hidden, args->intermediate,
                                      args->repeat);
        const std::string key = std::string(name) + "_" + engine_name;
        result[key + "_gflop_per_s"] = g;
        result[key + "_peak_share"] = g / peak;
      }
    }
    print(result, args->json);
  });
}

void add_bench_peak(CLI::App* bench) {
  struct Args {
    int threads = 0;
    double seconds = 1.0;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = bench->add_subcommand(
      "peak", "The CPU's peak fp32 multiply-add rate on the threads, for each instruction set");
  add_threads_option(cmd, args->threads);
  cmd->add_option("--seconds", args->seconds, "Seconds per measurement")
      ->capture_default_str()
      ->check(bounded(0, 3600, Bound::open));
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args] {
    set_num_threads(args->threads);
    json result = {{"cpu", cpu_description()}, {"active_isa", isa_name(active_isa())}};
    for (Isa isa : {Isa::avx512, Isa::avx2, Isa::generic}) {
      if (!cpu_supports(isa)) continue;
      const PeakRate peak = measure_peak(isa, args->seconds);
      result["threads"] = peak.threads;
      result[std::string(isa_name(isa)) + "_gflop_per_s"] = peak.gflops;
    }
    print(result, args->json);
  });
}

// What data-parallel training exchanges each step (src/train/gradient_sync.cpp): the dense
// gradients summed in rank order, and the word-embedding rows the ranks' shares touched. Run it
// under mpirun; alone there is nothing to exchange.
void add_bench_allreduce(CLI::App* bench) {
  struct Args {
    std::string model;
    int rows = 600, repeat = 10;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = bench->add_subcommand(
      "allreduce", "Time of one training step's gradient exchange between the mpirun ranks");
  cmd->add_option("--model", args->model, "Model directory (its parameter layout)")->required();
  cmd->add_option("--rows", args->rows, "Word-embedding rows each rank's share touches")
      ->capture_default_str()
      ->check(bounded(0, 1 << 20));
  cmd->add_option("--repeat", args->repeat, "Timed exchanges (best is reported)")
      ->capture_default_str()
      ->check(bounded(1, kMaxCount));
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args] {
    dist::Group& group = dist::Group::world();
    const LoadedModel model = load_model(args->model);
    const ParamLayout& layout = model.params.layout;
    const ParamTensor& words = layout.at("embeddings.word_embeddings.weight");
    const std::size_t dense = layout.total - words.numel;
    const auto width = static_cast<std::size_t>(words.shape[1]);
    const auto rows = static_cast<std::size_t>(args->rows);
    std::vector<float> gradients(dense, 0.0f), row_values(rows * width, 0.0f), all_values;
    std::vector<std::int32_t> ids(rows), all_ids;
    std::iota(ids.begin(), ids.end(), 0);
    std::vector<std::size_t> counts;
    double dense_s = std::numeric_limits<double>::infinity(), rows_s = dense_s;
    for (int i = 0; i <= args->repeat; i++) {  // the first round warms up
      auto t0 = std::chrono::steady_clock::now();
      group.sum_in_rank_order(gradients.data(), dense);
      if (i > 0) dense_s = std::min(dense_s, seconds_since(t0));
      t0 = std::chrono::steady_clock::now();
      group.all_counts(rows, counts);
      group.all_gather(ids, counts, all_ids);
      for (std::size_t& c : counts) c *= width;
      group.all_gather(row_values, counts, all_values);
      if (i > 0) rows_s = std::min(rows_s, seconds_since(t0));
    }
    const double mib = 1024.0 * 1024.0, ranks = group.size();
    const double dense_bytes = static_cast<double>(dense) * sizeof(float);
    const double rows_bytes = static_cast<double>(rows) * (width * sizeof(float) + 4);
    // A ring allreduce moves 2(N-1)/N of the buffer through each rank's link.
    const double dense_moved = 2.0 * (ranks - 1) / ranks * dense_bytes;
    if (!group.root()) return;
    print({{"ranks", group.size()},
           {"dense_mib", dense_bytes / mib},
           {"dense_ms", dense_s * 1e3},
           {"dense_gbit_per_s", dense_moved * 8 / dense_s / 1e9},
           {"rows_per_rank", rows},
           {"rows_mib_per_rank", rows_bytes / mib},
           {"rows_ms", rows_s * 1e3}},
          args->json);
  });
}

// 4 GiB of embeddings: far beyond what the benchmark needs to show a trend.
constexpr double kMaxBenchFloats = 1 << 30;

void add_bench_ir(CLI::App* bench) {
  struct Args {
    int queries = 1000, corpus = 100000, dimension = 384, relevant = 3, threads = 0;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = bench->add_subcommand(
      "ir",
      "Seconds of InformationRetrievalEvaluator's metrics (cosine and dot top-100 of every query, "
      "then the scores) on random embeddings, encoding excluded");
  cmd->add_option("--queries", args->queries)->capture_default_str()->check(bounded(1, 1 << 24));
  cmd->add_option("--corpus", args->corpus)->capture_default_str()->check(bounded(1, 1 << 24));
  cmd->add_option("--dimension", args->dimension)
      ->capture_default_str()
      ->check(bounded(1, 1 << 14));
  cmd->add_option("--relevant", args->relevant, "Relevant documents per query")
      ->capture_default_str()
      ->check(bounded(1, 1000));
  add_threads_option(cmd, args->threads);
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args] {
    // Both matrices are held at once; each option alone is in range, together they may not be.
    const double floats = (static_cast<double>(args->queries) + args->corpus) * args->dimension;
    if (floats > kMaxBenchFloats) {
      throw CLI::ValidationError(
          "--queries, --corpus, --dimension",
          "(queries + corpus) x dimension is " + std::to_string(static_cast<long long>(floats)) +
              " floats, more than " + std::to_string(static_cast<long long>(kMaxBenchFloats)));
    }
    set_num_threads(args->threads);
    std::mt19937 gen(0);
    std::normal_distribution<float> normal;
    const auto random_matrix = [&](int rows) {
      Matrix m{static_cast<std::size_t>(rows), static_cast<std::size_t>(args->dimension), {}};
      m.data.resize(m.rows * m.cols);
      for (float& v : m.data) v = normal(gen);
      return m;
    };
    const Matrix queries = random_matrix(args->queries), corpus = random_matrix(args->corpus);
    std::uniform_int_distribution<std::size_t> doc(0, corpus.rows - 1);
    std::vector<std::vector<std::size_t>> relevant(queries.rows);
    for (auto& docs : relevant) {
      for (int i = 0; i < args->relevant; i++) docs.push_back(doc(gen));
      std::sort(docs.begin(), docs.end());
      docs.erase(std::unique(docs.begin(), docs.end()), docs.end());
    }
    const auto t0 = std::chrono::steady_clock::now();
    const std::clock_t cpu0 = std::clock();
    const Metrics m = retrieval_metrics(queries, corpus, relevant);
    const double seconds = seconds_since(t0);
    // CPU time over all threads: on a shared machine, cpu_seconds / threads is what an idle one
    // would take.
    const double cpu_seconds = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;
    print({{"isa", isa_name(active_isa())},
           {"threads", omp_get_max_threads()},
           {"queries", args->queries},
           {"corpus", args->corpus},
           {"dimension", args->dimension},
           {"seconds", seconds},
           {"cpu_seconds", cpu_seconds},
           {"cosine_ndcg@10", metric_value(m, "cosine_ndcg@10")}},
          args->json);
  });
}

}  // namespace

void add_bench(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Measure throughput");
  bench->require_subcommand(1);
  add_bench_encode(bench);
  add_bench_train(bench);
  add_bench_matmul(bench);
  add_bench_peak(bench);
  add_bench_allreduce(bench);
  add_bench_ir(bench);
}

}  // namespace simtune::cli

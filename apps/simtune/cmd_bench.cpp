// simtune bench encode: throughput of the encoder, and the share of this machine's sgemm
// throughput it reaches (the roofline for a model made of matrix products).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include <filesystem>

#include "cli.h"
#include "simtune/core/blas.h"
#include "simtune/core/error.h"
#include "simtune/core/packed_matmul.h"
#include "simtune/train/trainer.h"

namespace simtune::cli {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// GFLOP/s of the four matrix products of a BERT layer on n packed tokens, through OpenBLAS
// (`packed` false: this machine's sgemm, as PyTorch uses it) or simtune's packed kernel.
double layer_matmul_gflops(int n, int C, int I, int repeat, bool packed) {
  const std::size_t widest = static_cast<std::size_t>(std::max(3 * C, I));
  std::vector<float> a(static_cast<std::size_t>(n) * widest, 0.5f);
  std::vector<float> w(widest * static_cast<std::size_t>(std::max(C, I)), 0.25f);
  std::vector<float> out(static_cast<std::size_t>(n) * widest);
  const std::pair<int, int> shapes[] = {{C, 3 * C}, {C, C}, {C, I}, {I, C}};
  std::vector<PackedMatrix> pm;
  for (auto [in, outf] : shapes) pm.emplace_back(w.data(), outf, in);
  auto once = [&] {
    for (std::size_t i = 0; i < pm.size(); i++) {
      const auto [in, outf] = shapes[i];
      if (packed) {
        matmul_packed(out.data(), a.data(), pm[i], n);
      } else {
        matmul_nt(out.data(), a.data(), w.data(), n, in, outf);
      }
    }
  };
  once();
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < repeat; r++) once();
  const double flops = 2.0 * n * (3.0 * C * C + C * C + 2.0 * C * I) * repeat;
  return flops / seconds_since(t0) / 1e9;
}

}  // namespace

void add_bench_encode(CLI::App* bench) {
  struct Args {
    std::string model, input;
    std::size_t batch_size = 32;
    int threads = 0, repeat = 3;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = bench->add_subcommand(
      "encode", "Sentences/s and tokens/s of encode on the input lines, and the sgemm roofline");
  cmd->add_option("--model", args->model, "Model directory")->required();
  cmd->add_option("--input", args->input, "Text file, one sentence per line")->required();
  cmd->add_option("--batch-size", args->batch_size, "Sentences per forward pass")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--threads", args->threads, "Threads (default: all cores)");
  cmd->add_option("--repeat", args->repeat, "Timed passes over the input (best is reported)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args] {
    set_num_threads(args->threads);
    const std::vector<std::string> lines = read_lines(args->input, false);
    if (lines.empty()) throw Error(args->input + ": no sentences to benchmark");
    Encoder encoder = Encoder::load(args->model);
    std::size_t tokens = 0;
    for (const auto& line : lines)
      tokens += encoder.tokenizer().encode(line, encoder.max_seq_length()).size();

    EncodeOptions options;
    options.batch_size = args->batch_size;
    const std::vector<std::string> warm(lines.begin(),
                                        lines.begin() + std::min<std::size_t>(lines.size(), 64));
    encoder.encode(warm, options);
    double best = 1e30;
    for (int r = 0; r < args->repeat; r++) {
      const auto t0 = std::chrono::steady_clock::now();
      encoder.encode(lines, options);
      best = std::min(best, seconds_since(t0));
    }
    const ModelFiles& f = encoder.files();
    const int C = f.bert.hidden_size, I = f.bert.intermediate_size, L = f.bert.num_hidden_layers;
    const double mean_len = static_cast<double>(tokens) / lines.size();
    // Per token: the four products of each layer, plus attention's two (q.k and p.v) products
    // over a sequence of mean length.
    const double flops_per_token = L * (2.0 * (4.0 * C * C + 2.0 * C * I) + 4.0 * mean_len * C);
    const double achieved = flops_per_token * tokens / best / 1e9;
    const int batch_tokens = static_cast<int>(mean_len * args->batch_size);
    const double sgemm = layer_matmul_gflops(std::max(batch_tokens, 1), C, I, 20, false);
    const double kernel = layer_matmul_gflops(std::max(batch_tokens, 1), C, I, 20, true);
    const nlohmann::json result = {
        {"sentences", lines.size()},
        {"tokens", tokens},
        {"batch_size", args->batch_size},
        {"seconds", best},
        {"sentences_per_s", lines.size() / best},
        {"tokens_per_s", tokens / best},
        {"model_gflop_per_s", achieved},
        {"sgemm_gflop_per_s", sgemm},
        {"sgemm_share", achieved / sgemm},
        {"kernel_gflop_per_s", kernel},
        {"kernel_share", achieved / kernel},
    };
    if (args->json) {
      std::printf("%s\n", result.dump().c_str());
    } else {
      std::printf(
          "sentences      %zu (%zu tokens, %.1f per sentence)\n"
          "time           %.3f s (best of %d)\n"
          "sentences/s    %.1f\n"
          "tokens/s       %.0f\n"
          "model GFLOP/s  %.1f\n"
          "sgemm GFLOP/s  %.1f (OpenBLAS, the layer's products on %d tokens): model at %.0f%%\n"
          "kernel GFLOP/s %.1f (simtune's packed kernel, same products): model at %.0f%%\n",
          lines.size(), tokens, mean_len, best, args->repeat, lines.size() / best, tokens / best,
          achieved, sgemm, batch_tokens, 100.0 * achieved / sgemm, kernel,
          100.0 * achieved / kernel);
    }
  });
}

void add_bench_train(CLI::App* bench) {
  struct Args {
    std::string model, train;
    TrainOptions options;
    PairFileOptions pairs;
    int threads = 0, steps = 30, warmup = 3;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = bench->add_subcommand(
      "train", "Pairs/s and peak memory of training steps (batches in file order, no saving)");
  cmd->add_option("--model", args->model, "Model directory")->required();
  cmd->add_option("--train", args->train, "Pairs file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--batch-size", args->options.batch_size)->capture_default_str();
  cmd->add_option("--steps", args->steps, "Timed steps")->capture_default_str();
  cmd->add_option("--warmup", args->warmup, "Untimed steps first")->capture_default_str();
  cmd->add_option("--dropout", args->options.dropout, "Dropout (default: config.json's)");
  cmd->add_option("--score-scale", args->pairs.score_scale)->capture_default_str();
  cmd->add_option("--threads", args->threads, "Threads (default: all cores)");
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args] {
    set_num_threads(args->threads);
    const PairData data = load_pairs(args->train, args->pairs);
    TrainOptions options = args->options;
    options.shuffle = false;
    options.max_steps = args->warmup + args->steps;
    // The timed window runs from the end of the last warm-up step to the end of the last step.
    using clock = std::chrono::steady_clock;
    clock::time_point window_start = clock::now(), window_end = window_start;
    options.on_step = [&](const StepReport& r) {
      if (r.step == args->warmup) window_start = clock::now();
      if (r.step == r.total_steps) window_end = clock::now();
    };
    const std::filesystem::path scratch =
        std::filesystem::temp_directory_path() / ("simtune-bench-" + std::to_string(::getpid()));
    Trainer trainer(args->model, options);
    try {
      trainer.train(data.pairs, scratch);
    } catch (...) {
      std::filesystem::remove_all(scratch);
      throw;
    }
    std::filesystem::remove_all(scratch);
    const double seconds = std::chrono::duration<double>(window_end - window_start).count();
    const double pairs = static_cast<double>(args->steps) * static_cast<double>(options.batch_size);
    struct rusage usage {};
    ::getrusage(RUSAGE_SELF, &usage);
    const double peak_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is KiB
    const nlohmann::json result = {{"steps", args->steps},
                                   {"batch_size", options.batch_size},
                                   {"seconds", seconds},
                                   {"pairs_per_s", pairs / seconds},
                                   {"peak_rss_mib", peak_mib}};
    if (args->json) {
      std::printf("%s\n", result.dump().c_str());
    } else {
      std::printf(
          "steps          %d of batch %zu (after %d warm-up)\n"
          "time           %.3f s\n"
          "pairs/s        %.1f\n"
          "peak RSS       %.0f MiB\n",
          args->steps, options.batch_size, args->warmup, seconds, pairs / seconds, peak_mib);
    }
  });
}

void add_bench(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Measure throughput");
  bench->require_subcommand(1);
  add_bench_encode(bench);
  add_bench_train(bench);
}

}  // namespace simtune::cli

// Pieces shared by the subcommands: registration, input lines, output files, progress.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "simtune/core/error.h"
#include "simtune/core/option_range.h"
#include "simtune/core/threads.h"
#include "simtune/encode/encoder.h"
#include "simtune/eval/evaluator.h"

namespace simtune::cli {

void add_init(CLI::App& app);
void add_tokenize(CLI::App& app);
void add_encode(CLI::App& app);
void add_similarity(CLI::App& app);
void add_bench(CLI::App& app);
void add_train(CLI::App& app);
void add_eval(CLI::App& app);
void add_search(CLI::App& app);
void add_mine_paraphrases(CLI::App& app);
void add_serve(CLI::App& app);

// Range checks for numeric options, on the text before it is converted (so "-1" never wraps
// around in an unsigned option); unlike CLI::Range they refuse NaN and infinity. CLI11 names
// the option in the message.
CLI::Validator bounded(double lo, double hi, Bound lo_bound = Bound::closed,
                       Bound hi_bound = Bound::closed);
constexpr double kMaxThreads = 1024;  // far above any machine's cores, far below libgomp's limits
constexpr double kMaxSeqLength = 1 << 20;  // the model's max_position_embeddings is checked later
// The text of an unsigned option is digits that fit 64 bits: CLI11 itself would read "-1" or
// 2^64 as 2^64 - 1. The range is the library's to check.
CLI::Validator unsigned_integer();
// A library's OptionError as a usage error naming the flag (batch_size: --batch-size).
CLI::ValidationError usage_error(const OptionError& e);
// The library's own range check of `options` (validate, found with the options' type), failing
// as a usage error.
template <class Options>
void check_options(const Options& options) {
  try {
    validate(options);
  } catch (const OptionError& e) {
    throw usage_error(e);
  }
}
// --threads N (1..kMaxThreads; default: all cores).
void add_threads_option(CLI::App* cmd, int& threads);

// Lines of `path` ("-" for stdin) without their LF / CRLF ends. Invalid UTF-8 throws Error
// naming file:line, unless `replace_invalid` substitutes U+FFFD.
std::vector<std::string> read_lines(const std::string& path, bool replace_invalid);

// --prompt TEXT and --prompt-name NAME (one or the other) into options.
void add_prompt_options(CLI::App* cmd, EncodeOptions& options);

// Embeddings to `path`: .npy (float32, shape rows x cols), .jsonl, or "-" (JSONL on stdout).
void write_embeddings(const std::string& path, const Matrix& m);

// A warning on stderr when the metrics of evaluation `name` are NaN because the model's
// similarities were constant or not finite.
void warn_if_undefined(const SimilarityMetrics& m, const std::string& name);

// A one-line progress bar with rate and ETA on stderr; silent when stderr is not a terminal
// or when quiet.
class Progress {
 public:
  Progress(std::string label, std::string unit, bool quiet);
  void update(std::size_t done, std::size_t total, const std::string& detail = {});
  void finish();

 private:
  std::string label_, unit_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool drawn_ = false;
};

}  // namespace simtune::cli

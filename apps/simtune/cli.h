// Pieces shared by the subcommands: registration, input lines, output files, progress.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "simtune/core/threads.h"
#include "simtune/encode/encoder.h"

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

// Lines of `path` ("-" for stdin) without their LF / CRLF ends. Invalid UTF-8 throws Error
// naming file:line, unless `replace_invalid` substitutes U+FFFD.
std::vector<std::string> read_lines(const std::string& path, bool replace_invalid);

// Embeddings to `path`: .npy (float32, shape rows x cols), .jsonl, or "-" (JSONL on stdout).
void write_embeddings(const std::string& path, const Matrix& m);

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

// Pair files (TSV/CSV and JSONL): any content either loads into pairs with finite scores in the
// allowed range or throws simtune::Error naming file:line; anything else is a bug. The first
// byte picks the format and the options, the rest is the file.
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "simtune/core/check.h"
#include "simtune/core/error.h"
#include "simtune/data/pairs.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() /
      ("simtune-fuzz-pairs-" + std::to_string(::getpid()) + ((mode & 1) ? ".jsonl" : ".tsv"));
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data + 1), static_cast<std::streamsize>(size - 1));
  }
  simtune::PairFileOptions options;
  options.skip_bad_rows = (mode & 2) != 0;
  options.score_scale = (mode & 4) ? 5.0f : 1.0f;
  if (mode & 8) options.score_column = (mode & 16) ? "score" : "3";
  if (mode & 32) options.text_a_column = "99999999999999999999";
  // Label-free reading (the ranking losses') and hard-negative columns.
  if (mode & 64) options.read_score = false;
  if (mode & 128) options.negative_columns = {(mode & 16) ? "negative" : "4"};
  try {
    const simtune::PairData pairs = simtune::load_pairs(path, options);
    for (const simtune::Pair& p : pairs.pairs) {
      SIMTUNE_CHECK(options.read_score ? std::isfinite(p.score) && p.score >= options.min_score &&
                                             p.score <= options.max_score
                                       : p.score == 0.0);
      SIMTUNE_CHECK(p.negatives.size() == pairs.pairs.front().negatives.size());
    }
  } catch (const simtune::Error&) {
  }
  std::filesystem::remove(path);
  return 0;
}

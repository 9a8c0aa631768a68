// Pair files (TSV/CSV and JSONL): any content either loads into pairs with finite scores in the
// allowed range or throws simtune::Error naming file:line; anything else is a bug. The first
// byte picks the format and the options, the rest is the file. PairFile, which keeps only where
// rows start and reads them again, yields the same rows, the same skipped count and the same
// error.
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
  simtune::PairData pairs;
  std::string error, file_error;
  try {
    pairs = simtune::load_pairs(path, options);
    for (const simtune::Pair& p : pairs.pairs) {
      SIMTUNE_CHECK(options.read_score ? std::isfinite(p.score) && p.score >= options.min_score &&
                                             p.score <= options.max_score
                                       : p.score == 0.0);
      SIMTUNE_CHECK(p.negatives.size() == pairs.pairs.front().negatives.size());
    }
  } catch (const simtune::Error& e) {
    error = e.what();
  }
  try {
    simtune::PairFile rows(path, options);
    SIMTUNE_CHECK(rows.size() == pairs.pairs.size() && rows.skipped() == pairs.skipped);
    // Backwards, so that every row is found by its offset rather than by reading on.
    for (std::size_t i = rows.size(); i-- > 0;) {
      const simtune::Pair& want = pairs.pairs[i];
      SIMTUNE_CHECK(rows.score(i) == want.score &&
                    rows.texts(i) == (want.one_text ? 1 : 2 + want.negatives.size()));
      const simtune::Pair& got = rows.at(i);
      SIMTUNE_CHECK(got.a == want.a && got.b == want.b && got.score == want.score &&
                    got.negatives == want.negatives && got.one_text == want.one_text);
    }
  } catch (const simtune::Error& e) {
    file_error = e.what();
  }
  SIMTUNE_CHECK(file_error == error);
  std::filesystem::remove(path);
  return 0;
}

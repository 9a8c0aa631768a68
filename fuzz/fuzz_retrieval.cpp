// Retrieval sets and triplet files: any content either loads (at least one query, every relevant
// document a corpus row, ascending and unique, every query with one; three texts per triplet) or
// throws simtune::Error naming file:line; anything else is a bug. The input is split at its first
// two NUL bytes into the queries, corpus and qrels files; the whole input is also a triplet file.
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "simtune/core/check.h"
#include "simtune/core/error.h"
#include "simtune/data/retrieval.h"
#include "simtune/data/triplets.h"

namespace {

std::filesystem::path write(const std::string& what, std::string_view text) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() /
      ("simtune-fuzz-retrieval-" + what + "-" + std::to_string(::getpid()));
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(text.data(), static_cast<std::streamsize>(text.size()));
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view rest = input;
  const auto take_until_nul = [&rest] {
    const std::size_t end = std::min(rest.find('\0'), rest.size());
    const std::string_view part = rest.substr(0, end);
    rest.remove_prefix(std::min(end + 1, rest.size()));
    return part;
  };
  const auto queries = write("queries", take_until_nul());
  const auto corpus = write("corpus", take_until_nul());
  const auto qrels = write("qrels", rest);
  const auto triplets = write("triplets", input);
  try {
    const simtune::RetrievalSet set = simtune::load_retrieval_set(queries, corpus, qrels);
    SIMTUNE_CHECK(!set.queries.empty() && set.queries.size() == set.query_ids.size() &&
                  set.relevant.size() == set.queries.size() &&
                  set.corpus.size() == set.corpus_ids.size());
    for (const auto& docs : set.relevant) {
      SIMTUNE_CHECK(!docs.empty() && std::is_sorted(docs.begin(), docs.end()) &&
                    std::adjacent_find(docs.begin(), docs.end()) == docs.end() &&
                    docs.back() < set.corpus.size());
    }
  } catch (const simtune::Error&) {
  }
  try {
    simtune::load_triplets(triplets);
  } catch (const simtune::Error&) {
  }
  for (const auto& path : {queries, corpus, qrels, triplets}) std::filesystem::remove(path);
  return 0;
}

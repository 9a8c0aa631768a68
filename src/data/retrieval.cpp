#include "simtune/data/retrieval.h"

#include <algorithm>
#include <string_view>
#include <unordered_map>

#include "data/lines.h"
#include "simtune/core/error.h"

namespace simtune {
namespace {

// `id<TAB>text` lines: ids (unique, non-empty) and texts in file order, and each id's index.
struct IdTexts {
  std::vector<std::string> ids, texts;
  std::unordered_map<std::string, std::size_t> index;
};

IdTexts read_id_texts(const std::filesystem::path& path) {
  IdTexts out;
  for_each_line(path, [&](const std::string& where, std::string_view line) {
    const std::size_t tab = line.find('\t');
    if (tab == std::string_view::npos) throw Error(where + ": expected id<TAB>text, found no tab");
    std::string id(line.substr(0, tab));
    if (id.empty()) throw Error(where + ": empty id");
    if (!out.index.emplace(id, out.ids.size()).second) {
      throw Error(where + ": duplicate id \"" + id + "\"");
    }
    out.ids.push_back(std::move(id));
    out.texts.emplace_back(line.substr(tab + 1));
  });
  return out;
}

}  // namespace

RetrievalSet load_retrieval_set(const std::filesystem::path& queries_path,
                                const std::filesystem::path& corpus_path,
                                const std::filesystem::path& qrels_path) {
  IdTexts queries = read_id_texts(queries_path);
  IdTexts corpus = read_id_texts(corpus_path);
  std::vector<std::vector<std::size_t>> relevant(queries.ids.size());
  for_each_line(qrels_path, [&](const std::string& where, std::string_view line) {
    const std::size_t tab = line.find('\t');
    if (tab == std::string_view::npos || line.find('\t', tab + 1) != std::string_view::npos) {
      throw Error(where + ": expected query_id<TAB>doc_id");
    }
    const std::string query(line.substr(0, tab)), doc(line.substr(tab + 1));
    const auto q = queries.index.find(query);
    if (q == queries.index.end()) {
      throw Error(where + ": query \"" + query + "\" is not in " + queries_path.string());
    }
    const auto d = corpus.index.find(doc);
    if (d == corpus.index.end()) {
      throw Error(where + ": document \"" + doc + "\" is not in the corpus " +
                  corpus_path.string());
    }
    relevant[q->second].push_back(d->second);
  });
  // The library drops queries without a relevant document; with none left every metric would be
  // an average over nothing.
  if (std::all_of(relevant.begin(), relevant.end(),
                  [](const auto& docs) { return docs.empty(); })) {
    throw Error(qrels_path.string() + ": no relevance judgements (query_id<TAB>doc_id lines)");
  }
  RetrievalSet set;
  set.corpus_ids = std::move(corpus.ids);
  set.corpus = std::move(corpus.texts);
  for (std::size_t q = 0; q < queries.ids.size(); q++) {
    std::vector<std::size_t>& docs = relevant[q];
    if (docs.empty()) continue;
    std::sort(docs.begin(), docs.end());
    docs.erase(std::unique(docs.begin(), docs.end()), docs.end());
    set.query_ids.push_back(std::move(queries.ids[q]));
    set.queries.push_back(std::move(queries.texts[q]));
    set.relevant.push_back(std::move(docs));
  }
  return set;
}

}  // namespace simtune

// Information-retrieval sets, InformationRetrievalEvaluator's queries, corpus and relevant_docs
// read from files: queries and corpus as TSV `id<TAB>text`, relevance judgements (qrels) as TSV
// `query_id<TAB>doc_id`, one relevant document per line.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace simtune {

struct RetrievalSet {
  // Queries with at least one relevant document, in file order (the library drops the others).
  std::vector<std::string> query_ids, queries;
  std::vector<std::string> corpus_ids, corpus;  // every document, in file order
  // relevant[q]: the indices in `corpus` of query q's relevant documents, ascending, unique.
  std::vector<std::vector<std::size_t>> relevant;
};

// Reads the three files. LF or CRLF lines, a UTF-8 byte-order mark skipped, no header, no
// quoting: an id is everything before the first tab. Errors name file:line: a line without a
// tab, an empty or duplicate id, invalid UTF-8, a qrels line with more than two fields, or naming
// a query or document the other files lack; qrels without a line name that file.
RetrievalSet load_retrieval_set(const std::filesystem::path& queries,
                                const std::filesystem::path& corpus,
                                const std::filesystem::path& qrels);

}  // namespace simtune

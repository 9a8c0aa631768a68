// Semantic search and paraphrase mining over embeddings, as sentence-transformers'
// util.semantic_search and util.paraphrase_mining_embeddings compute them (cosine similarity, or
// for search the model's similarity function, as score_function=model.similarity gives).
//
// Scores are cosine similarities in double precision: dot(a, b) / (max(|a|, 1e-12) *
// max(|b|, 1e-12)), the epsilon being F.normalize's. sentence-transformers computes them in
// float32, so scores agree to about 1e-7. Where scores tie exactly, torch.topk's choice is
// unspecified; here the lower index wins (it is kept at a top-k boundary and listed first).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "simtune/core/matrix.h"

namespace simtune {

// sentence-transformers' similarity functions (a model's similarity_fn_name).
enum class SimilarityFunction { Cosine, Dot, Euclidean, Manhattan };
// From "cosine", "dot", "euclidean" or "manhattan"; throws Error naming the name otherwise.
SimilarityFunction similarity_function(const std::string& name);
// The library's name of a function: "cosine", "dot", "euclidean" or "manhattan".
std::string similarity_function_name(SimilarityFunction fn);
// model.similarity of two n-float vectors, in double: cosine, dot product, or the negative
// euclidean / manhattan distance (higher is more similar for all four).
double similarity_score(SimilarityFunction fn, const float* a, const float* b, std::size_t n);

struct SearchHit {
  std::size_t corpus_id = 0;
  double score = 0;
};

// For each query row, the top_k corpus rows most similar to it (fewer when the corpus is
// smaller), best first. Chunking in sentence-transformers does not change which hits it
// returns, so there are no chunk sizes here. Throws Error when the widths differ.
std::vector<std::vector<SearchHit>> semantic_search(
    const Matrix& queries, const Matrix& corpus, std::size_t top_k = 10,
    SimilarityFunction fn = SimilarityFunction::Cosine);

// semantic_search for several functions at once: results[f] is semantic_search(queries, corpus,
// top_k, fns[f]); cosine and dot share one pass of float products, which only screen (each hit's
// score is the exact double one), so no full score matrix is ever held.
std::vector<std::vector<std::vector<SearchHit>>> semantic_search_each(
    const Matrix& queries, const Matrix& corpus, std::size_t top_k,
    const std::vector<SimilarityFunction>& fns);

struct ParaphrasePair {
  double score = 0;
  std::size_t i = 0, j = 0;  // i < j
};

// sentence-transformers' defaults. Unlike in semantic_search, the chunk sizes matter: each
// sentence contributes its top_k + 1 most similar rows (itself included, then dropped) from
// every corpus chunk.
struct ParaphraseOptions {
  std::size_t top_k = 100;
  std::size_t max_pairs = 500000;
  std::size_t query_chunk_size = 5000;
  std::size_t corpus_chunk_size = 100000;
};

// Pairs of distinct rows (i < j) that are among each other's top_k most similar rows, best
// first. The cap follows sentence-transformers exactly: it applies to directed candidates
// (i, j) and (j, i) before they are deduplicated, and once max_pairs candidates have been
// added the lowest one is evicted per addition, so at most max_pairs - 1 candidates (and
// usually about half as many pairs) remain; later candidates scoring no higher than the last
// evicted one are dropped, as are scores <= -1. Equal scores are listed in the order of the
// pair's lowest surviving directed candidate (i, j), as sentence-transformers' stable sort does.
std::vector<ParaphrasePair> paraphrase_mining(const Matrix& embeddings,
                                              const ParaphraseOptions& options = {});

}  // namespace simtune

#include "simtune/eval/search.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <queue>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include "simtune/core/error.h"
#include "simtune/core/matmul.h"

namespace simtune {
namespace {

// F.normalize's epsilon, which sentence-transformers' cos_sim uses: a zero vector scores 0.
constexpr double kNormEps = 1e-12;

void check_finite(const Matrix& m, const char* what) {
  for (std::size_t r = 0; r < m.rows; r++) {
    for (std::size_t c = 0; c < m.cols; c++) {
      if (!std::isfinite(m.row(r)[c])) {
        throw Error(std::string(what) + " row " + std::to_string(r) + " is not finite");
      }
    }
  }
}

// Products of two floats are exact in double, so only the summation order (sequential)
// decides the last bit; the oracle test reproduces it to compare tie-breaking exactly.
double dot(const float* a, const float* b, std::size_t n) {
  double s = 0;
  for (std::size_t k = 0; k < n; k++) s += static_cast<double>(a[k]) * b[k];
  return s;
}

std::vector<double> row_norms(const Matrix& m) {
  std::vector<double> norms(m.rows);
  for (std::size_t r = 0; r < m.rows; r++) {
    norms[r] = std::max(std::sqrt(dot(m.row(r), m.row(r), m.cols)), kNormEps);
  }
  return norms;
}

// Higher score first; the lower index wins a tie (a strict total order, so results do not
// depend on the sort algorithm).
bool better(const SearchHit& a, const SearchHit& b) {
  return a.score > b.score || (a.score == b.score && a.corpus_id < b.corpus_id);
}

// The k best of query row `q` against corpus rows [begin, end), best first. `scratch` is
// reused between calls to avoid an allocation per query.
// Cosine scores use the precomputed norms; the other functions score each pair directly.
void top_k_range(SimilarityFunction fn, const float* q, double q_norm, const Matrix& corpus,
                 const std::vector<double>& norms, std::size_t begin, std::size_t end,
                 std::size_t k, std::vector<SearchHit>& scratch, std::vector<SearchHit>& out) {
  scratch.clear();
  for (std::size_t c = begin; c < end; c++) {
    scratch.push_back({c, fn == SimilarityFunction::Cosine
                              ? dot(q, corpus.row(c), corpus.cols) / (q_norm * norms[c])
                              : similarity_score(fn, q, corpus.row(c), corpus.cols)});
  }
  const std::size_t keep = std::min(k, scratch.size());
  std::partial_sort(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(keep),
                    scratch.end(), better);
  out.assign(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(keep));
}

// Exact top-k of cosine or dot scores without a full score matrix and without a double product
// per pair. A float product of a query block and a packed corpus block (the matrix kernel)
// screens: its chain over n products is within n * 2^-24 * |q| * |c| of the exact value, so a
// row whose float score falls further than twice that below the current k-th best cannot enter;
// every other row is rescored in double (the same `dot` as top_k_range) and kept as there.
// Results are therefore those of the exhaustive double search, bit for bit.
void top_k_by_products(const std::vector<SimilarityFunction>& fns, const Matrix& queries,
                       const Matrix& corpus, const std::vector<double>& q_norms,
                       const std::vector<double>& c_norms, std::size_t k,
                       std::vector<std::vector<std::vector<SearchHit>>>& results) {
  constexpr std::size_t kCorpusBlock = 2048, kQueryBlock = 1024;
  const std::size_t n = corpus.cols;
  const double margin = 2.0 * static_cast<double>(n + 1) * 0x1p-24;
  // Heaps with the worst kept hit on top (`better` as the heap's "less").
  for (auto& per_function : results) {
    for (auto& heap : per_function) heap.reserve(k);
  }
  std::vector<float> scores(std::min(kQueryBlock, queries.rows) *
                            std::min(kCorpusBlock, corpus.rows));
  for (std::size_t c0 = 0; c0 < corpus.rows; c0 += kCorpusBlock) {
    const std::size_t nc = std::min(kCorpusBlock, corpus.rows - c0);
    // The block's rows read in place: the product transposes the slices it needs.
    const PackedMatrix block =
        PackedMatrix::in_place(corpus.row(c0), static_cast<int>(nc), static_cast<int>(n));
    for (std::size_t q0 = 0; q0 < queries.rows; q0 += kQueryBlock) {
      const std::size_t nq = std::min(kQueryBlock, queries.rows - q0);
      matmul_packed(scores.data(), queries.row(q0), block, static_cast<int>(nq));
#pragma omp parallel for schedule(static)
      for (std::size_t i = 0; i < nq; i++) {
        const std::size_t q = q0 + i;
        const float* row = scores.data() + i * nc;
        for (std::size_t f = 0; f < fns.size(); f++) {
          const bool cosine = fns[f] == SimilarityFunction::Cosine;
          std::vector<SearchHit>& heap = results[f][q];
          for (std::size_t j = 0; j < nc; j++) {
            const std::size_t c = c0 + j;
            if (heap.size() == k) {
              const double worst = heap.front().score;
              const double bound = cosine ? (worst - margin) * q_norms[q] * c_norms[c]
                                          : worst - margin * q_norms[q] * c_norms[c];
              if (row[j] < bound) continue;
            }
            const double d = dot(queries.row(q), corpus.row(c), n);
            const SearchHit hit{c, cosine ? d / (q_norms[q] * c_norms[c]) : d};
            if (heap.size() == k) {
              if (!better(hit, heap.front())) continue;
              std::pop_heap(heap.begin(), heap.end(), better);
              heap.back() = hit;
            } else {
              heap.push_back(hit);
            }
            std::push_heap(heap.begin(), heap.end(), better);
          }
        }
      }
    }
  }
  for (auto& per_function : results) {
    for (auto& heap : per_function) std::sort_heap(heap.begin(), heap.end(), better);
  }
}

}  // namespace

SimilarityFunction similarity_function(const std::string& name) {
  if (name == "cosine") return SimilarityFunction::Cosine;
  if (name == "dot") return SimilarityFunction::Dot;
  if (name == "euclidean") return SimilarityFunction::Euclidean;
  if (name == "manhattan") return SimilarityFunction::Manhattan;
  throw Error("similarity function \"" + name +
              "\" is not one of cosine, dot, euclidean, manhattan");
}

std::string similarity_function_name(SimilarityFunction fn) {
  switch (fn) {
    case SimilarityFunction::Cosine:
      return "cosine";
    case SimilarityFunction::Dot:
      return "dot";
    case SimilarityFunction::Euclidean:
      return "euclidean";
    case SimilarityFunction::Manhattan:
      return "manhattan";
  }
  return {};
}

double similarity_score(SimilarityFunction fn, const float* a, const float* b, std::size_t n) {
  switch (fn) {
    case SimilarityFunction::Cosine:
      return dot(a, b, n) / (std::max(std::sqrt(dot(a, a, n)), kNormEps) *
                             std::max(std::sqrt(dot(b, b, n)), kNormEps));
    case SimilarityFunction::Dot:
      return dot(a, b, n);
    case SimilarityFunction::Euclidean: {
      double s = 0;
      for (std::size_t k = 0; k < n; k++) {
        const double d = static_cast<double>(a[k]) - b[k];
        s += d * d;
      }
      return -std::sqrt(s);
    }
    case SimilarityFunction::Manhattan: {
      double s = 0;
      for (std::size_t k = 0; k < n; k++) s += std::abs(static_cast<double>(a[k]) - b[k]);
      return -s;
    }
  }
  return 0;
}

std::vector<std::vector<SearchHit>> semantic_search(const Matrix& queries, const Matrix& corpus,
                                                    std::size_t top_k, SimilarityFunction fn) {
  return std::move(semantic_search_each(queries, corpus, top_k, {fn}).front());
}

std::vector<std::vector<std::vector<SearchHit>>> semantic_search_each(
    const Matrix& queries, const Matrix& corpus, std::size_t top_k,
    const std::vector<SimilarityFunction>& fns) {
  if (queries.cols != corpus.cols) {
    throw Error("query embeddings have " + std::to_string(queries.cols) +
                " dimensions, corpus embeddings " + std::to_string(corpus.cols));
  }
  check_finite(queries, "query embedding");
  check_finite(corpus, "corpus embedding");
  const std::vector<double> q_norms = row_norms(queries);
  const std::vector<double> c_norms = row_norms(corpus);
  std::vector<std::vector<std::vector<SearchHit>>> results(
      fns.size(), std::vector<std::vector<SearchHit>>(queries.rows));
  if (top_k == 0 || corpus.rows == 0) return results;
  // Cosine and dot share one pass of products; the distances score every pair.
  std::vector<SimilarityFunction> by_products;
  std::vector<std::vector<std::vector<SearchHit>>> product_results;
  for (std::size_t f = 0; f < fns.size(); f++) {
    if (fns[f] == SimilarityFunction::Cosine || fns[f] == SimilarityFunction::Dot) {
      by_products.push_back(fns[f]);
      product_results.push_back(std::move(results[f]));
      continue;
    }
#pragma omp parallel
    {
      std::vector<SearchHit> scratch;
#pragma omp for schedule(dynamic)
      for (std::size_t q = 0; q < queries.rows; q++) {
        top_k_range(fns[f], queries.row(q), q_norms[q], corpus, c_norms, 0, corpus.rows, top_k,
                    scratch, results[f][q]);
      }
    }
  }
  if (!by_products.empty()) {
    top_k_by_products(by_products, queries, corpus, q_norms, c_norms, top_k, product_results);
    for (std::size_t f = 0, p = 0; f < fns.size(); f++) {
      if (fns[f] == SimilarityFunction::Cosine || fns[f] == SimilarityFunction::Dot) {
        results[f] = std::move(product_results[p++]);
      }
    }
  }
  return results;
}

std::vector<ParaphrasePair> paraphrase_mining(const Matrix& embeddings,
                                              const ParaphraseOptions& options) {
  if (options.query_chunk_size == 0 || options.corpus_chunk_size == 0) {
    throw Error("paraphrase mining: chunk sizes must be positive");
  }
  check_finite(embeddings, "embedding");
  const std::size_t n = embeddings.rows;
  const std::vector<double> norms = row_norms(embeddings);
  // A sentence is its own best match; one more slot keeps top_k others.
  const std::size_t k = std::min(options.top_k, n) + 1;

  struct Candidate {
    double score;
    std::size_t i, j;
    bool operator<(const Candidate& o) const {
      return std::tie(score, i, j) < std::tie(o.score, o.i, o.j);
    }
    bool operator>(const Candidate& o) const { return o < *this; }
  };
  // Python's PriorityQueue of (score, i, j) tuples: get() returns the smallest tuple.
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  double min_score = -1;
  std::size_t num_added = 0;

  std::vector<std::vector<SearchHit>> hits;
  for (std::size_t c0 = 0; c0 < n; c0 += options.corpus_chunk_size) {
    const std::size_t c1 = std::min(n, c0 + options.corpus_chunk_size);
    for (std::size_t q0 = 0; q0 < n; q0 += options.query_chunk_size) {
      const std::size_t q1 = std::min(n, q0 + options.query_chunk_size);
      hits.resize(q1 - q0);
#pragma omp parallel
      {
        std::vector<SearchHit> scratch;
#pragma omp for schedule(dynamic)
        for (std::size_t q = q0; q < q1; q++) {
          top_k_range(SimilarityFunction::Cosine, embeddings.row(q), norms[q], embeddings, norms,
                      c0, c1, k, scratch, hits[q - q0]);
        }
      }
      // Candidates arrive in sentence-transformers' order (corpus chunk, query chunk, query,
      // rank), which decides what the max_pairs cap keeps.
      for (std::size_t q = q0; q < q1; q++) {
        for (const SearchHit& h : hits[q - q0]) {
          if (q == h.corpus_id || !(h.score > min_score)) continue;
          queue.push({h.score, q, h.corpus_id});
          if (++num_added >= options.max_pairs) {
            min_score = queue.top().score;
            queue.pop();
          }
        }
      }
    }
  }

  std::vector<ParaphrasePair> pairs;
  std::set<std::pair<std::size_t, std::size_t>> seen;
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    const std::size_t a = std::min(c.i, c.j), b = std::max(c.i, c.j);
    if (seen.insert({a, b}).second) pairs.push_back({c.score, a, b});
  }
  std::stable_sort(
      pairs.begin(), pairs.end(),
      [](const ParaphrasePair& x, const ParaphrasePair& y) { return x.score > y.score; });
  return pairs;
}

}  // namespace simtune

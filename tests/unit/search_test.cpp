#include "simtune/eval/search.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <utility>

#include "simtune/core/error.h"
#include "simtune/eval/evaluator.h"

namespace simtune {
namespace {

Matrix random_matrix(std::size_t rows, std::size_t cols, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist;
  Matrix m{rows, cols, std::vector<float>(rows * cols)};
  for (float& v : m.data) v = dist(gen);
  return m;
}

// Naive twin: normalise each row first (as cos_sim does), then dot products.
double naive_cos(const Matrix& a, std::size_t i, const Matrix& b, std::size_t j) {
  double na = 0, nb = 0, d = 0;
  for (std::size_t k = 0; k < a.cols; k++) {
    na += double(a.row(i)[k]) * a.row(i)[k];
    nb += double(b.row(j)[k]) * b.row(j)[k];
  }
  na = std::max(std::sqrt(na), 1e-12);
  nb = std::max(std::sqrt(nb), 1e-12);
  for (std::size_t k = 0; k < a.cols; k++) d += (a.row(i)[k] / na) * (b.row(j)[k] / nb);
  return d;
}

// All corpus rows by descending score, ties by index (a full stable sort).
std::vector<SearchHit> ranked(const Matrix& q, std::size_t i, const Matrix& c, std::size_t begin,
                              std::size_t end) {
  std::vector<SearchHit> all;
  for (std::size_t j = begin; j < end; j++) all.push_back({j, naive_cos(q, i, c, j)});
  std::stable_sort(all.begin(), all.end(),
                   [](const SearchHit& x, const SearchHit& y) { return x.score > y.score; });
  return all;
}

TEST(SemanticSearch, MatchesFullSortAndTruncates) {
  const Matrix corpus = random_matrix(57, 12, 1), queries = random_matrix(9, 12, 2);
  for (std::size_t k : {1u, 5u, 57u, 80u}) {
    const auto got = semantic_search(queries, corpus, k);
    ASSERT_EQ(got.size(), queries.rows);
    for (std::size_t q = 0; q < queries.rows; q++) {
      const auto want = ranked(queries, q, corpus, 0, corpus.rows);
      ASSERT_EQ(got[q].size(), std::min<std::size_t>(k, corpus.rows));
      for (std::size_t r = 0; r < got[q].size(); r++) {
        EXPECT_EQ(got[q][r].corpus_id, want[r].corpus_id) << "query " << q << " rank " << r;
        EXPECT_NEAR(got[q][r].score, want[r].score, 1e-12);
      }
    }
  }
}

TEST(SemanticSearch, TiesGoToTheLowerIndexAndZeroVectorsScoreZero) {
  Matrix corpus = random_matrix(6, 4, 3);
  // Rows 4 and 1 equal, row 5 a positive multiple of row 1 (same cosine), row 2 zero.
  for (std::size_t k = 0; k < 4; k++) {
    corpus.row(4)[k] = corpus.row(1)[k];
    corpus.row(5)[k] = 2 * corpus.row(1)[k];
    corpus.row(2)[k] = 0;
  }
  Matrix query{1, 4, std::vector<float>(corpus.row(1), corpus.row(1) + 4)};
  const auto got = semantic_search(query, corpus, 6)[0];
  EXPECT_EQ(got[0].corpus_id, 1u);
  EXPECT_EQ(got[1].corpus_id, 4u);
  EXPECT_EQ(got[2].corpus_id, 5u);
  EXPECT_EQ(got[2].score, got[0].score);
  for (const SearchHit& h : got) {
    if (h.corpus_id == 2) {
      EXPECT_EQ(h.score, 0.0);
    }
  }
  // Only two of the three equal rows fit: the lower indices are kept.
  const auto two = semantic_search(query, corpus, 2)[0];
  EXPECT_EQ(two[0].corpus_id, 1u);
  EXPECT_EQ(two[1].corpus_id, 4u);
}

// Past one block of queries (1024) and of corpus rows (2048), with ties across corpus blocks and
// rows that differ in the last bits only, where the float products that screen candidates cannot
// decide: cosine and dot both rank exactly as the exhaustive double search.
TEST(SemanticSearch, BlockedProductsRankExactlyAcrossBlocks) {
  Matrix corpus = random_matrix(2100, 16, 7);
  Matrix queries = random_matrix(1030, 16, 8);
  for (std::size_t k = 0; k < 16; k++) {
    corpus.row(2090)[k] = corpus.row(5)[k];                         // a tie
    corpus.row(2091)[k] = std::nextafter(corpus.row(5)[k], 10.0f);  // near ties
    corpus.row(2092)[k] = std::nextafter(corpus.row(5)[k], -10.0f);
    queries.row(1024)[k] = corpus.row(5)[k];  // ranks the four first
  }
  for (SimilarityFunction fn : {SimilarityFunction::Cosine, SimilarityFunction::Dot}) {
    const auto got = semantic_search(queries, corpus, 7, fn);
    for (std::size_t q : {0u, 1u, 1023u, 1024u, 1029u}) {
      std::vector<SearchHit> want;
      for (std::size_t c = 0; c < corpus.rows; c++) {
        want.push_back({c, similarity_score(fn, queries.row(q), corpus.row(c), corpus.cols)});
      }
      std::stable_sort(want.begin(), want.end(),
                       [](const SearchHit& x, const SearchHit& y) { return x.score > y.score; });
      ASSERT_EQ(got[q].size(), 7u);
      for (std::size_t r = 0; r < 7; r++) {
        EXPECT_EQ(got[q][r].corpus_id, want[r].corpus_id) << "query " << q << " rank " << r;
        EXPECT_EQ(got[q][r].score, want[r].score);
      }
    }
  }
}

TEST(SemanticSearch, RejectsMismatchedWidthsAndNonFiniteValues) {
  EXPECT_THROW(semantic_search(random_matrix(2, 3, 1), random_matrix(2, 4, 1)), Error);
  Matrix bad = random_matrix(2, 3, 1);
  bad.row(1)[2] = std::nanf("");
  EXPECT_THROW(semantic_search(random_matrix(2, 3, 1), bad), Error);
}

// Candidates as sentence-transformers generates them: per corpus chunk, each row's top_k + 1
// (itself included, then dropped), uncapped.
std::vector<std::tuple<double, std::size_t, std::size_t>> candidates(const Matrix& m,
                                                                     std::size_t top_k,
                                                                     std::size_t chunk) {
  std::vector<std::tuple<double, std::size_t, std::size_t>> out;
  for (std::size_t c0 = 0; c0 < m.rows; c0 += chunk) {
    for (std::size_t i = 0; i < m.rows; i++) {
      const auto all = ranked(m, i, m, c0, std::min(m.rows, c0 + chunk));
      for (std::size_t r = 0; r < std::min(top_k + 1, all.size()); r++) {
        if (all[r].corpus_id != i) out.emplace_back(all[r].score, i, all[r].corpus_id);
      }
    }
  }
  return out;
}

// The best `keep` candidates, deduplicated to i < j, best first.
std::vector<ParaphrasePair> naive_pairs(
    std::vector<std::tuple<double, std::size_t, std::size_t>> cands, std::size_t keep) {
  std::sort(cands.rbegin(), cands.rend());
  cands.resize(std::min(keep, cands.size()));
  std::map<std::pair<std::size_t, std::size_t>, double> unique;
  for (const auto& [s, i, j] : cands) unique[{std::min(i, j), std::max(i, j)}] = s;
  std::vector<ParaphrasePair> out;
  for (const auto& [ij, s] : unique) out.push_back({s, ij.first, ij.second});
  std::sort(out.begin(), out.end(),
            [](const ParaphrasePair& a, const ParaphrasePair& b) { return a.score > b.score; });
  return out;
}

void expect_same(const std::vector<ParaphrasePair>& got, const std::vector<ParaphrasePair>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t r = 0; r < got.size(); r++) {
    EXPECT_EQ(got[r].i, want[r].i) << "rank " << r;
    EXPECT_EQ(got[r].j, want[r].j) << "rank " << r;
    EXPECT_NEAR(got[r].score, want[r].score, 1e-12);
  }
}

TEST(ParaphraseMining, TopKCountsOtherSentencesAndPairsAreDeduplicated) {
  const Matrix m = random_matrix(40, 8, 4);
  for (std::size_t top_k : {1u, 3u, 100u}) {
    ParaphraseOptions o;
    o.top_k = top_k;
    const auto got = paraphrase_mining(m, o);
    expect_same(got, naive_pairs(candidates(m, top_k, m.rows), SIZE_MAX));
    for (const auto& p : got) EXPECT_LT(p.i, p.j);
  }
  ParaphraseOptions one;
  one.top_k = 1;
  // Every sentence has a nearest other sentence, so at least n/2 distinct pairs.
  EXPECT_GE(paraphrase_mining(m, one).size(), m.rows / 2);
}

TEST(ParaphraseMining, CorpusChunksEachContributeTopK) {
  const Matrix m = random_matrix(23, 6, 5);
  ParaphraseOptions o;
  o.top_k = 2;
  o.corpus_chunk_size = 5;
  o.query_chunk_size = 4;
  expect_same(paraphrase_mining(m, o), naive_pairs(candidates(m, 2, 5), SIZE_MAX));
}

TEST(ParaphraseMining, MaxPairsKeepsTheBestMaxPairsMinusOneCandidates) {
  const Matrix m = random_matrix(30, 8, 6);
  for (std::size_t max_pairs : {1u, 2u, 7u, 20u}) {
    ParaphraseOptions o;
    o.top_k = 4;
    o.max_pairs = max_pairs;
    o.query_chunk_size = 7;
    expect_same(paraphrase_mining(m, o), naive_pairs(candidates(m, 4, m.rows), max_pairs - 1));
  }
}

TEST(Correlations, ConstantOrNonFinitePredictionsGiveNaNAsScipyDoes) {
  const std::vector<double> gold = {0.1, 0.5, 0.3, 0.9};
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const std::vector<double>& bad :
       {std::vector<double>{0.2, 0.2, 0.2, 0.2}, std::vector<double>{nan, nan, nan, nan},
        std::vector<double>{0.1, nan, 0.3, 0.4}, std::vector<double>{0.1, 0.2, INFINITY, 0.4}}) {
    EXPECT_TRUE(std::isnan(pearson(gold, bad)));
    EXPECT_TRUE(std::isnan(spearman(gold, bad)));
  }
  Matrix a, b;
  a.rows = b.rows = 4;
  a.cols = b.cols = 2;
  a.data.assign(8, 0.0f);
  b.data.assign(8, 0.0f);
  const SimilarityMetrics m = similarity_metrics(a, b, gold);
  EXPECT_TRUE(m.constant_or_not_finite);
  EXPECT_TRUE(std::isnan(m.cosine_spearman));
}

}  // namespace
}  // namespace simtune

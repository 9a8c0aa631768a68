#include "simtune/data/retrieval.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "temp_dir.h"
#include "test_errors.h"

namespace simtune {
namespace {

using testing::error_of;
using testing::TempDir;

std::filesystem::path write(const TempDir& dir, const std::string& name, const std::string& text) {
  const auto path = dir.path() / name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST(RetrievalSet, ReadsIdsTextsAndRelevantDocumentsDroppingQueriesWithout) {
  TempDir dir("retrieval");
  const auto q = write(dir, "q.tsv",
                       "\xEF\xBB\xBFq1\tfirst query\r\nq2\tno relevant doc\nq3\tthird\twith tab\n");
  const auto c = write(dir, "c.tsv", "d1\tdoc one\nd2\tdoc two\nd3\t\n");
  const auto r = write(dir, "r.tsv", "q3\td2\nq1\td3\nq1\td1\nq1\td3\n");
  const RetrievalSet set = load_retrieval_set(q, c, r);
  EXPECT_EQ(set.query_ids, (std::vector<std::string>{"q1", "q3"}));
  EXPECT_EQ(set.queries, (std::vector<std::string>{"first query", "third\twith tab"}));
  EXPECT_EQ(set.corpus_ids, (std::vector<std::string>{"d1", "d2", "d3"}));
  EXPECT_EQ(set.corpus, (std::vector<std::string>{"doc one", "doc two", ""}));
  ASSERT_EQ(set.relevant.size(), 2u);
  EXPECT_EQ(set.relevant[0], (std::vector<std::size_t>{0, 2}));  // sorted, duplicates dropped
  EXPECT_EQ(set.relevant[1], (std::vector<std::size_t>{1}));
}

TEST(RetrievalSet, BadLinesNameFileAndLine) {
  TempDir dir("retrieval-bad");
  const auto q = write(dir, "q.tsv", "q1\tquery\n");
  const auto c = write(dir, "c.tsv", "d1\tdoc\n");
  const auto r = write(dir, "r.tsv", "q1\td1\n");
  const auto fails = [&](const std::filesystem::path& qp, const std::filesystem::path& cp,
                         const std::filesystem::path& rp) {
    return error_of([&] { load_retrieval_set(qp, cp, rp); });
  };
  EXPECT_CONTAINS(fails(write(dir, "q-notab.tsv", "q1\tok\nq2 no tab\n"), c, r),
                  "q-notab.tsv:2: expected id<TAB>text");
  EXPECT_CONTAINS(fails(q, write(dir, "c-dup.tsv", "d1\ta\nd1\tb\n"), r),
                  "c-dup.tsv:2: duplicate id");
  EXPECT_CONTAINS(fails(q, write(dir, "c-empty.tsv", "\tdoc\n"), r), "c-empty.tsv:1: empty id");
  EXPECT_CONTAINS(fails(q, c, write(dir, "r-doc.tsv", "q1\td1\nq1\td9\n")),
                  "r-doc.tsv:2: document \"d9\" is not in the corpus");
  EXPECT_CONTAINS(fails(q, c, write(dir, "r-query.tsv", "q7\td1\n")),
                  "r-query.tsv:1: query \"q7\" is not in");
  EXPECT_CONTAINS(fails(q, c, write(dir, "r-fields.tsv", "q1\td1\t1\n")),
                  "r-fields.tsv:1: expected query_id<TAB>doc_id");
  EXPECT_CONTAINS(fails(q, c, write(dir, "r-none.tsv", "")), "r-none.tsv: no relevance judgements");
  EXPECT_CONTAINS(fails(write(dir, "q-utf8.tsv", "q1\t\xff\n"), c, r),
                  "q-utf8.tsv:1: not valid UTF-8");
  EXPECT_CONTAINS(fails(dir.path() / "missing.tsv", c, r), "missing.tsv: cannot open");
}

}  // namespace
}  // namespace simtune

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "simtune/core/error.h"
#include "simtune/data/pairs.h"
#include "temp_dir.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;

// One directory for the whole test process, removed at exit.
const fs::path& test_root() {
  static const testing::TempDir dir("pairs_test");
  return dir.path();
}

fs::path write_temp(const std::string& name, const std::string& text) {
  const fs::path p = test_root() / name;
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

std::string error_of(const fs::path& p, const PairFileOptions& o) {
  try {
    load_pairs(p, o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Pairs, StsBenchmarkLayoutWithCrlfAndTrailingFields) {
  PairFileOptions o;
  o.score_scale = 5;
  const auto train = load_pairs(SIMTUNE_SOURCE_DIR "/data/stsbenchmark/sts-train.csv", o);
  ASSERT_EQ(train.pairs.size(), 5749u);
  EXPECT_EQ(train.pairs[0].a, "A plane is taking off.");
  EXPECT_EQ(train.pairs[0].b, "An air plane is taking off.");
  EXPECT_FLOAT_EQ(train.pairs[0].score, 1.0f);
  EXPECT_FLOAT_EQ(train.pairs[1].score, 3.8f / 5);
  for (const auto& p : train.pairs) ASSERT_EQ(p.b.find('\r'), std::string::npos);
  EXPECT_EQ(load_pairs(SIMTUNE_SOURCE_DIR "/data/stsbenchmark/sts-dev.csv", o).pairs.size(), 1500u);
  EXPECT_EQ(load_pairs(SIMTUNE_SOURCE_DIR "/data/stsbenchmark/sts-test.csv", o).pairs.size(),
            1379u);
}

TEST(Pairs, HeaderNamesAndExplicitColumns) {
  const auto p = write_temp("h.tsv", "score\tsentence1\tsentence2\n0.5\ta\tb\n1\tc\td\n");
  const auto d = load_pairs(p);
  ASSERT_EQ(d.pairs.size(), 2u);
  EXPECT_EQ(d.pairs[1].a, "c");
  EXPECT_FLOAT_EQ(d.pairs[0].score, 0.5f);
  PairFileOptions o;
  o.text_a_column = "3";
  o.text_b_column = "2";
  o.score_column = "1";
  const auto q = write_temp("plain.tsv", "0.25\tx\ty\n");
  const auto e = load_pairs(q, o);
  EXPECT_EQ(e.pairs[0].a, "y");
  EXPECT_EQ(e.pairs[0].b, "x");
}

TEST(Pairs, CommaDelimitedWithNamedColumns) {
  PairFileOptions o;
  o.delimiter = ',';
  o.text_a_column = "first";
  o.text_b_column = "second";
  o.score_column = "sim";
  const auto d = load_pairs(write_temp("c.csv", "id,first,second,sim\n1,a,b,0.75\n"), o);
  ASSERT_EQ(d.pairs.size(), 1u);
  EXPECT_EQ(d.pairs[0].b, "b");
  EXPECT_FLOAT_EQ(d.pairs[0].score, 0.75f);
}

TEST(Pairs, JsonlBothKeyStyles) {
  const auto d = load_pairs(write_temp("j.jsonl",
                                       "{\"sentence1\":\"a\",\"sentence2\":\"b\",\"score\":0.5}"
                                       "\n\n{\"text_a\":\"c\",\"text_b\":\"d\",\"label\":1}\n"));
  ASSERT_EQ(d.pairs.size(), 2u);
  EXPECT_EQ(d.pairs[1].b, "d");
  EXPECT_FLOAT_EQ(d.pairs[1].score, 1.0f);
}

TEST(Pairs, BadRowsNameFileAndLineOrAreSkippedAndCounted) {
  const auto p =
      write_temp("bad.tsv", "a\tb\t0.5\nc\td\tnope\nonly two\t0.1\ne\tf\t3\ng\th\t0.2\n");
  PairFileOptions o;
  const std::string e = error_of(p, o);
  EXPECT_NE(e.find("bad.tsv:2: score \"nope\" is not a number"), std::string::npos) << e;
  o.skip_bad_rows = true;
  const auto d = load_pairs(p, o);
  EXPECT_EQ(d.pairs.size(), 2u);
  EXPECT_EQ(d.skipped, 3u);
  EXPECT_NE(d.first_skipped.find(":2:"), std::string::npos);
  const auto scale = write_temp("scale.tsv", "a\tb\t4.2\n");
  const std::string s = error_of(scale, {});
  EXPECT_NE(s.find("scale.tsv:1: score 4.2 is outside [0, 1]"), std::string::npos) << s;
  EXPECT_NE(s.find("--score-scale 5"), std::string::npos) << s;
  const std::string j = error_of(write_temp("bad.jsonl", "{\"sentence1\":\"a\"}\n"), {});
  EXPECT_NE(j.find("bad.jsonl:1: expected string fields"), std::string::npos) << j;
}

}  // namespace
}  // namespace simtune

namespace simtune {
namespace {

TEST(Pairs, ByteOrderMarkBeforeTheHeaderIsSkipped) {
  const PairData d =
      load_pairs(write_temp("bom.tsv", "\xEF\xBB\xBFsentence1\tsentence2\tscore\na\tb\t0.5\n"), {});
  ASSERT_EQ(d.pairs.size(), 1u);
  EXPECT_EQ(d.pairs[0].a, "a");
  EXPECT_EQ(d.pairs[0].score, 0.5);
}

TEST(Pairs, HugeNumbersAndColumnIndicesAreNamed) {
  EXPECT_NE(error_of(write_temp("huge.jsonl",
                                "{\"sentence1\":\"a\",\"sentence2\":\"b\","
                                "\"score\":1e400}\n"),
                     {})
                .find("huge.jsonl:1: a number is out of range"),
            std::string::npos);
  PairFileOptions o;
  o.score_column = "99999999999999999999999";
  EXPECT_NE(error_of(write_temp("cols.tsv", "a\tb\t0.5\n"), o).find("column index"),
            std::string::npos);
}

}  // namespace
}  // namespace simtune

#include "temp_dir.h"

namespace simtune {
namespace {

fs::path write_in(const testing::TempDir& dir, const std::string& name, const std::string& text) {
  const fs::path p = dir.path() / name;
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

TEST(Examples, AnchorPositiveNegativesByHeaderAndByIndex) {
  testing::TempDir dir("examples");
  PairFileOptions o;
  o.read_score = false;
  const auto named =
      load_pairs(write_in(dir, "t.tsv",
                          "anchor\tpositive\tnegative\tnegative_1\nq\tp\tn0\tn1\nr\ts\tm0\tm1\n"),
                 o);
  ASSERT_EQ(named.pairs.size(), 2u);
  EXPECT_EQ(named.pairs[1].a, "r");
  EXPECT_EQ(named.pairs[1].b, "s");
  EXPECT_EQ(named.pairs[1].negatives, (std::vector<std::string>{"m0", "m1"}));
  o.negative_columns = {"4"};
  const auto indexed = load_pairs(write_in(dir, "plain.tsv", "q\tp\t0.3\tn\n"), o);
  EXPECT_EQ(indexed.pairs[0].negatives, std::vector<std::string>{"n"});
  EXPECT_EQ(indexed.pairs[0].score, 0.0);
  const std::string short_row = error_of(write_in(dir, "short.tsv", "q\tp\t0.3\tn\nq\tp\n"), o);
  EXPECT_NE(short_row.find("short.tsv:2: expected at least 4 fields, found 2"), std::string::npos)
      << short_row;
}

TEST(Examples, LabelFreeReadingOfAnStsFileIgnoresTheScore) {
  PairFileOptions o;
  o.read_score = false;  // scores of 0..5 would be out of range for a scored loss without a scale
  const auto sts = load_pairs(SIMTUNE_SOURCE_DIR "/data/stsbenchmark/sts-train.csv", o);
  ASSERT_EQ(sts.pairs.size(), 5749u);
  EXPECT_EQ(sts.pairs[0].a, "A plane is taking off.");
  EXPECT_EQ(sts.pairs[0].b, "An air plane is taking off.");
  EXPECT_TRUE(sts.pairs[0].negatives.empty());
  testing::TempDir dir("examples");
  const auto two = load_pairs(write_in(dir, "two.tsv", "q\tp\nr\ts\n"), o);
  EXPECT_EQ(two.pairs.size(), 2u);
}

TEST(Examples, JsonlNegativesMustBeInEveryRow) {
  testing::TempDir dir("examples");
  PairFileOptions o;
  o.read_score = false;
  const auto ok =
      load_pairs(write_in(dir, "t.jsonl",
                          "{\"anchor\":\"q\",\"positive\":\"p\",\"negative\":\"n\"}\n"
                          "{\"anchor\":\"r\",\"positive\":\"s\",\"negative\":\"m\",\"score\":9}\n"),
                 o);
  ASSERT_EQ(ok.pairs.size(), 2u);
  EXPECT_EQ(ok.pairs[1].negatives, std::vector<std::string>{"m"});
  const std::string e = error_of(write_in(dir, "missing.jsonl",
                                          "{\"anchor\":\"q\",\"positive\":\"p\",\"negative\":\"n\"}"
                                          "\n{\"anchor\":\"r\",\"positive\":\"s\"}\n"),
                                 o);
  EXPECT_NE(e.find("missing.jsonl:2: expected a string field \"negative\""), std::string::npos)
      << e;
}

TEST(Examples, ALabelOutsideTheLossRangeNamesFileAndLine) {
  testing::TempDir dir("examples");
  PairFileOptions o;
  o.min_score = -1;
  o.max_score = 1;
  const std::string e = error_of(write_in(dir, "range.tsv", "a\tb\t0.5\nc\td\t-2\n"), o);
  EXPECT_NE(e.find("range.tsv:2: score -2 is outside [-1, 1]"), std::string::npos) << e;
}

TEST(Examples, OneTextRowsForMSELoss) {
  testing::TempDir dir("examples");
  PairFileOptions o;
  o.read_score = false;
  o.one_text = true;
  for (const auto& [name, text] :
       {std::pair{"header.tsv", "text\nfirst\nsecond\n"}, std::pair{"plain.tsv", "first\nsecond\n"},
        std::pair{"t.jsonl", "{\"text\":\"first\"}\n{\"sentence1\":\"second\"}\n"}}) {
    const auto data = load_pairs(write_in(dir, name, text), o);
    ASSERT_EQ(data.pairs.size(), 2u) << name;
    EXPECT_EQ(data.pairs[1].a, "second") << name;
    EXPECT_TRUE(data.pairs[0].one_text && data.pairs[1].one_text) << name;
  }
  // Pairs stay pairs; without one_text a one-field row is a short row.
  const auto pairs = load_pairs(write_in(dir, "pairs.tsv", "q\tp\n"), o);
  EXPECT_FALSE(pairs.pairs[0].one_text);
  EXPECT_EQ(pairs.pairs[0].b, "p");
  o.one_text = false;
  const std::string e = error_of(write_in(dir, "one.tsv", "first\n"), o);
  EXPECT_NE(e.find("one.tsv:1: expected at least 2 fields, found 1"), std::string::npos) << e;
}

// A file read row by row: the rows kept are those load_pairs keeps (header, byte-order mark, CRLF,
// bad rows skipped and counted), each read again, in any order, when asked for.
TEST(PairFile, ReadsRowsAgainInAnyOrderAfterCheckingThemAll) {
  testing::TempDir dir("pair_file");
  PairFileOptions o;
  o.skip_bad_rows = true;
  const auto tsv = write_in(
      dir, "rows.tsv",
      "\xEF\xBB\xBFsentence1\tsentence2\tscore\r\nfirst a\tfirst b\t0.25\r\n\nbad\tx\tnope\n"
      "second a\tsecond b\t1\nthird a\tthird b\t0.5");
  PairFile rows(tsv, o);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows.skipped(), 1u);
  EXPECT_NE(rows.first_skipped().find("rows.tsv:4: score \"nope\""), std::string::npos);
  EXPECT_EQ(rows.score(0), 0.25);
  EXPECT_EQ(rows.score(2), 0.5);
  EXPECT_EQ(rows.texts(1), 2u);
  EXPECT_EQ(rows.at(2).a, "third a");
  EXPECT_EQ(rows.at(0).b, "first b");
  EXPECT_EQ(rows.at(1).a, "second a");
  EXPECT_EQ(rows.at(1).score, 1.0);
  // The first row of a file without a header, behind a byte-order mark, reads as its text.
  PairFile plain(write_in(dir, "plain.tsv",
                          "\xEF\xBB\xBF"
                          "a\tb\t0.5\nc\td\t0\n"),
                 {});
  EXPECT_EQ(plain.at(1).a, "c");
  EXPECT_EQ(plain.at(0).a, "a");
  // JSONL with negatives; the texts count is known without reading the row.
  PairFileOptions one;
  one.read_score = false;
  one.one_text = true;
  PairFile jsonl(write_in(dir, "rows.jsonl",
                          "{\"anchor\":\"q1\",\"positive\":\"p1\"}\n{\"text\":\"alone\"}\n"),
                 one);
  ASSERT_EQ(jsonl.size(), 2u);
  EXPECT_EQ(jsonl.texts(0), 2u);
  EXPECT_EQ(jsonl.texts(1), 1u);
  EXPECT_EQ(jsonl.at(1).a, "alone");
  EXPECT_EQ(jsonl.at(0).b, "p1");
}

TEST(PairFile, BadRowsStopAsLoadPairsDoesAndAChangedFileIsNamed) {
  testing::TempDir dir("pair_file_errors");
  const auto bad = write_in(dir, "bad.tsv", "a\tb\t0.5\nc\td\t7\n");
  try {
    PairFile rows(bad, {});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.tsv:2: score 7 is outside [0, 1]"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(PairFile(write_in(dir, "empty.tsv", "\n"), {}), Error);
  const auto path = write_in(dir, "changes.tsv", "a\tb\t0.5\nc\td\t0.25\n");
  PairFile rows(path, {});
  write_in(dir, "changes.tsv", "a\tb\t0.5\nc\n");
  try {
    rows.at(1);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("changes.tsv: changed while in use"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace simtune

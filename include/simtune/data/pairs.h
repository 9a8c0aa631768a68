// Training and evaluation examples in the shapes sentence-transformers' losses take: two texts
// and a score ((text_a, text_b, score), (text_a, text_b, label), (anchor, positive)), or an
// anchor, a positive and hard negatives ((anchor, positive, negative...)), from TSV/CSV or JSONL.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace simtune {

struct Pair {
  std::string a, b;    // text_a / anchor, text_b / positive
  double score = 0.0;  // after scaling (double, so evaluation sees the file's values); 0 when
                       // the file is read without scores
  std::vector<std::string> negatives = {};  // further texts, the same count in every example
  bool one_text = false;  // the example is `a` alone (PairFileOptions::one_text); b is empty
};

struct PairFileOptions {
  // Columns by 1-based index ("6") or header name ("sentence1"); empty = auto: a header row
  // naming sentence1/sentence2/score (or text_a/text_b/label), else the STS benchmark layout
  // (score 5, sentences 6 and 7) when rows have 7+ fields, else 1, 2, 3.
  std::string text_a_column, text_b_column, score_column;
  // Columns (or JSONL keys) of further texts, the hard negatives of (anchor, positive,
  // negative...); empty = auto: header columns / keys "negative", "negative_1", "negative_2"...
  // (none without a header row).
  std::vector<std::string> negative_columns;
  // false for losses that take no label: the score is not read (an STS file still works) unless
  // score_column names it, and then it is only checked to be a number.
  bool read_score = true;
  char delimiter = '\t';     // for delimited files; ".csv" files are still tab-separated
                             // unless told otherwise, as the STS benchmark's are
  float score_scale = 1.0f;  // scores are divided by this
  float min_score = 0.0f;    // allowed range after scaling
  float max_score = 1.0f;
  bool integer_score = false;  // class labels: the scaled score must be a whole number
  // Rows may hold a single text (MSELoss's (text) examples): a delimited file whose first row
  // has one field (a header "text", "sentence", "sentence1", "text_a" or "anchor", or a text),
  // or JSONL objects with a first text and no second, is read as examples of one text.
  bool one_text = false;
  bool skip_bad_rows = false;  // count and skip rows that fail instead of stopping
};

struct PairData {
  std::vector<Pair> pairs;
  std::size_t skipped = 0;    // bad rows skipped (with skip_bad_rows)
  std::string first_skipped;  // the first skipped row's error, for the report
};

// Reads examples; the format follows the extension (.jsonl: one object per line with
// sentence1/sentence2/score, text_a/text_b/label or anchor/positive[/negative...]; anything else:
// delimited text, LF or CRLF, no quoting, extra trailing fields ignored). Bad rows throw
// Error("file:line: what is wrong") unless skip_bad_rows.
PairData load_pairs(const std::filesystem::path& path, const PairFileOptions& options = {});

// Training examples by index, wherever they are kept: in memory (the library API's lists) or in
// their file, read again when a batch needs them (the CLI: under mpirun each rank reads only the
// rows of its shares).
class PairRows {
 public:
  virtual ~PairRows() = default;
  virtual std::size_t size() const = 0;
  // Example i; valid until the next call.
  virtual const Pair& at(std::size_t i) = 0;
  // Example i's score and its count of texts (1, or 2 plus its negatives), without reading it.
  virtual double score(std::size_t i) const = 0;
  virtual std::size_t texts(std::size_t i) const = 0;
};

// The examples of a list, which must outlive this.
class PairList final : public PairRows {
 public:
  explicit PairList(const std::vector<Pair>& pairs) : pairs_(pairs) {}
  explicit PairList(std::vector<Pair>&&) = delete;
  std::size_t size() const override { return pairs_.size(); }
  const Pair& at(std::size_t i) override { return pairs_[i]; }
  double score(std::size_t i) const override { return pairs_[i].score; }
  std::size_t texts(std::size_t i) const override {
    return pairs_[i].one_text ? 1 : 2 + pairs_[i].negatives.size();
  }

 private:
  const std::vector<Pair>& pairs_;
};

// The examples of a pairs file, read and checked row by row as load_pairs does (the same errors,
// the same skipped rows) while keeping only where each row starts and its score; at() parses the
// row again. The file must not change while in use (a changed row throws Error).
class PairFile final : public PairRows {
 public:
  PairFile(const std::filesystem::path& path, const PairFileOptions& options = {});
  ~PairFile() override;
  std::size_t size() const override;
  const Pair& at(std::size_t i) override;
  double score(std::size_t i) const override;
  std::size_t texts(std::size_t i) const override;
  std::size_t skipped() const;  // as PairData's
  const std::string& first_skipped() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace simtune

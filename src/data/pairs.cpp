#include "simtune/data/pairs.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "simtune/core/error.h"
#include "simtune/core/option_range.h"
#include "simtune/text/tokenizer.h"

namespace simtune {
namespace {

std::vector<std::string_view> split(std::string_view line, char delimiter) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = line.find(delimiter, start);
    fields.push_back(line.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return fields;
    start = end + 1;
  }
}

// Editors on Windows start UTF-8 files with a byte-order mark; Python's utf-8-sig drops it.
void strip_bom(std::string& line) {
  if (line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::optional<double> parse_number(std::string_view text) {
  while (!text.empty() && (text.front() == ' ')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ')) text.remove_suffix(1);
  double v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(v))
    return std::nullopt;
  return v;
}

// Resolved 0-based column indices.
struct Columns {
  std::size_t a;
  std::optional<std::size_t> b;      // none for rows of one text
  std::optional<std::size_t> score;  // none when the score is not read
  std::vector<std::size_t> negatives;
  std::size_t needed() const {
    std::size_t n = std::max({a, b.value_or(0), score.value_or(0)});
    for (std::size_t c : negatives) n = std::max(n, c);
    return n + 1;
  }
};

// The library's names for hard-negative columns: "negative", then "negative_1", "negative_2"...
bool is_negative_name(std::string_view name) {
  if (name == "negative") return true;
  if (!name.starts_with("negative_") || name.size() == 9) return false;
  return name.find_first_not_of("0123456789", 9) == std::string_view::npos;
}

std::optional<std::size_t> find_name(const std::vector<std::string_view>& header,
                                     std::initializer_list<std::string_view> names) {
  for (std::size_t i = 0; i < header.size(); i++) {
    for (auto n : names) {
      if (header[i] == n) return i;
    }
  }
  return std::nullopt;
}

bool is_index(const std::string& spec) {
  return !spec.empty() && spec.find_first_not_of("0123456789") == std::string::npos;
}

// A column given by the user: a 1-based index, or a name looked up in the header.
std::size_t resolve(const std::string& spec, const std::vector<std::string_view>* header,
                    const std::string& where) {
  if (is_index(spec)) {
    std::size_t index = 0;
    const auto [end, ec] = std::from_chars(spec.data(), spec.data() + spec.size(), index);
    // A row has at most as many fields as characters, so a larger index can never match.
    if (ec != std::errc() || index > (1u << 20)) {
      throw Error(where + ": column index " + spec + " is larger than any row");
    }
    if (index == 0) throw Error(where + ": column indices start at 1, got 0");
    return index - 1;
  }
  if (header != nullptr) {
    if (auto i = find_name(*header, {spec})) return *i;
  }
  throw Error(where + ": no column named \"" + spec + "\" in the header row");
}

// Where bad rows go: an exception, or a count with skip_bad_rows.
struct Skipped {
  std::size_t count = 0;
  std::string first;  // the first skipped row's error
};

class RowSink {
 public:
  RowSink(const std::string& name, const PairFileOptions& options, Skipped& skipped)
      : name_(name), options_(options), skipped_(skipped) {}

  // Records a bad row: throws, or counts it with skip_bad_rows.
  std::nullopt_t bad(std::size_t line, const std::string& what) {
    const std::string message = name_ + ":" + std::to_string(line) + ": " + what;
    if (!options_.skip_bad_rows) throw Error(message);
    if (skipped_.count++ == 0) skipped_.first = message;
    return std::nullopt;
  }

  // An example of one text (PairFileOptions::one_text).
  std::optional<Pair> one(std::size_t line, std::string a) {
    if (!is_valid_utf8(a)) return bad(line, "text is not valid UTF-8");
    return Pair{std::move(a), std::string(), 0.0, {}, true};
  }

  // score_text: none when the score is not read.
  std::optional<Pair> pair(std::size_t line, std::string a, std::string b,
                           std::optional<std::string_view> score_text,
                           std::vector<std::string> negatives) {
    bool valid = is_valid_utf8(a) && is_valid_utf8(b);
    for (const std::string& n : negatives) valid = valid && is_valid_utf8(n);
    if (!valid) return bad(line, "text is not valid UTF-8");
    if (!score_text) return Pair{std::move(a), std::move(b), 0.0, std::move(negatives)};
    const auto raw = parse_number(*score_text);
    if (!raw) return bad(line, "score \"" + std::string(*score_text) + "\" is not a number");
    const double score = *raw / options_.score_scale;
    if (!options_.read_score) return Pair{std::move(a), std::move(b), 0.0, std::move(negatives)};
    if (options_.integer_score && (score < options_.min_score || score > options_.max_score)) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "label %g is not a class: the classes are %g to %g", score,
                    options_.min_score, options_.max_score);
      return bad(line, buf);
    }
    if (score < options_.min_score || score > options_.max_score) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "score %g is outside [%g, %g] after dividing by %g%s", score,
                    options_.min_score, options_.max_score, options_.score_scale,
                    options_.score_scale == 1.0f ? " (STS scores need --score-scale 5)" : "");
      return bad(line, buf);
    }
    if (options_.integer_score && score != std::floor(score)) {
      return bad(line,
                 "label \"" + std::string(*score_text) + "\" is not a class (a whole number)");
    }
    return Pair{std::move(a), std::move(b), score, std::move(negatives)};
  }

 private:
  const std::string& name_;
  const PairFileOptions& options_;
  Skipped& skipped_;
};

// One line of a pairs file to its example. The first rows fix the layout (columns, header,
// negative keys), so a row read again later parses as it did in the first pass.
class RowParser {
 public:
  RowParser(const std::string& name, const PairFileOptions& options, Skipped& skipped)
      : name_(name), options_(options), sink_(name, options, skipped) {}
  virtual ~RowParser() = default;
  // The example on line `line_no` (its line end and byte-order mark removed); none for a blank
  // line, a header or a skipped bad row.
  virtual std::optional<Pair> parse(const std::string& line, std::size_t line_no) = 0;

 protected:
  const std::string& name_;
  const PairFileOptions& options_;
  RowSink sink_;
};

class DelimitedParser final : public RowParser {
 public:
  using RowParser::RowParser;
  std::optional<Pair> parse(const std::string& line, std::size_t line_no) override;

 private:
  std::optional<Columns> columns_;
};

std::optional<Pair> DelimitedParser::parse(const std::string& line, std::size_t line_no) {
  if (line.empty()) return std::nullopt;
  const auto fields = split(line, options_.delimiter);
  if (!columns_ && options_.one_text && fields.size() == 1) {
    // One text a row (MSELoss): a header names it, or the row is the first text.
    columns_ = Columns{0, std::nullopt, std::nullopt, {}};
    const std::string_view f = fields[0];
    if (f == "text" || f == "sentence" || f == "sentence1" || f == "text_a" || f == "anchor" ||
        f == options_.text_a_column) {
      return std::nullopt;
    }
  }
  if (!columns_) {
    // The first row decides the columns, and whether it is a header.
    const std::string where = name_ + ":" + std::to_string(line_no);
    const auto header_a = find_name(fields, {"sentence1", "text_a", "sentence_a", "anchor"});
    const auto header_b = find_name(fields, {"sentence2", "text_b", "sentence_b", "positive"});
    const auto header_s = find_name(fields, {"score", "label", "similarity"});
    auto names_a_column = [&](const std::string& spec) {
      return !spec.empty() && !is_index(spec) && find_name(fields, {spec}).has_value();
    };
    const bool is_header = (header_a && header_b) || names_a_column(options_.text_a_column) ||
                           names_a_column(options_.text_b_column) ||
                           names_a_column(options_.score_column);
    const std::vector<std::string_view>* header = is_header ? &fields : nullptr;
    auto pick = [&](const std::string& spec, std::optional<std::size_t> named, std::size_t sts,
                    std::size_t plain) {
      if (!spec.empty()) return resolve(spec, header, where);
      if (is_header && named) return *named;
      return fields.size() >= 7 ? sts : plain;
    };
    columns_ = Columns{pick(options_.text_a_column, header_a, 5, 0),
                       pick(options_.text_b_column, header_b, 6, 1),
                       std::nullopt,
                       {}};
    if (options_.read_score || !options_.score_column.empty()) {
      columns_->score = pick(options_.score_column, header_s, 4, 2);
    }
    for (const std::string& spec : options_.negative_columns) {
      columns_->negatives.push_back(resolve(spec, header, where));
    }
    if (options_.negative_columns.empty() && is_header) {
      for (std::size_t i = 0; i < fields.size(); i++) {
        if (is_negative_name(fields[i])) columns_->negatives.push_back(i);
      }
    }
    if (is_header) return std::nullopt;
  }
  if (fields.size() < columns_->needed()) {
    return sink_.bad(line_no, "expected at least " + std::to_string(columns_->needed()) +
                                  " fields, found " + std::to_string(fields.size()));
  }
  std::vector<std::string> negatives;
  for (std::size_t c : columns_->negatives) negatives.emplace_back(fields[c]);
  if (!columns_->b) return sink_.one(line_no, std::string(fields[columns_->a]));
  return sink_.pair(line_no, std::string(fields[columns_->a]), std::string(fields[*columns_->b]),
                    columns_->score ? std::optional(fields[*columns_->score]) : std::nullopt,
                    std::move(negatives));
}

class JsonlParser final : public RowParser {
 public:
  JsonlParser(const std::string& name, const PairFileOptions& options, Skipped& skipped)
      : RowParser(name, options, skipped) {
    if (!options.negative_columns.empty()) negative_keys_ = options.negative_columns;
  }
  std::optional<Pair> parse(const std::string& line, std::size_t line_no) override;

 private:
  // Negative keys: the given ones, else those of the first object, then required in every row.
  std::optional<std::vector<std::string>> negative_keys_;
};

std::optional<Pair> JsonlParser::parse(const std::string& line, std::size_t line_no) {
  const std::string key_a = options_.text_a_column, key_b = options_.text_b_column,
                    key_s = options_.score_column;
  const bool read_score = options_.read_score || !key_s.empty();
  if (line.find_first_not_of(" \t") == std::string::npos) return std::nullopt;
  nlohmann::json row;
  try {
    row = nlohmann::json::parse(line);
  } catch (const nlohmann::json::out_of_range&) {
    return sink_.bad(line_no, "a number is out of range (beyond double precision)");
  } catch (const nlohmann::json::exception&) {
    return sink_.bad(line_no, "not a JSON object");
  }
  if (!row.is_object()) return sink_.bad(line_no, "not a JSON object");
  auto field = [&](const std::string& given,
                   std::initializer_list<const char*> names) -> const nlohmann::json* {
    if (!given.empty()) return row.contains(given) ? &row[given] : nullptr;
    for (const char* n : names) {
      if (row.contains(n)) return &row[n];
    }
    return nullptr;
  };
  const auto* a = field(key_a, {"sentence1", "text_a", "anchor", "text", "sentence"});
  const auto* b = field(key_b, {"sentence2", "text_b", "positive"});
  const auto* s = read_score ? field(key_s, {"score", "label"}) : nullptr;
  if (options_.one_text && a != nullptr && a->is_string() && b == nullptr) {
    return sink_.one(line_no, a->get<std::string>());
  }
  if (a == nullptr || b == nullptr || (read_score && s == nullptr) || !a->is_string() ||
      !b->is_string()) {
    return sink_.bad(line_no, std::string("expected string fields sentence1/sentence2 (or "
                                          "text_a/text_b, anchor/positive)") +
                                  (read_score ? " and a score (or label)" : ""));
  }
  if (!negative_keys_) {
    negative_keys_.emplace();
    for (const auto& item : row.items()) {
      if (is_negative_name(item.key())) negative_keys_->push_back(item.key());
    }
  }
  std::vector<std::string> negatives;
  for (const std::string& key : *negative_keys_) {
    if (!row.contains(key) || !row[key].is_string()) break;
    negatives.push_back(row[key].get<std::string>());
  }
  if (negatives.size() != negative_keys_->size()) {
    return sink_.bad(line_no, "expected a string field \"" + (*negative_keys_)[negatives.size()] +
                                  "\" (every row has the negatives of the first)");
  }
  std::string score_text;
  if (s != nullptr) score_text = s->is_string() ? s->get<std::string>() : s->dump();
  return sink_.pair(line_no, a->get<std::string>(), b->get<std::string>(),
                    s != nullptr ? std::optional<std::string_view>(score_text) : std::nullopt,
                    std::move(negatives));
}

// The parser for `path`'s format: JSONL by extension, else delimited text.
std::unique_ptr<RowParser> open_pairs(const std::filesystem::path& path, const std::string& name,
                                      const PairFileOptions& options, Skipped& skipped,
                                      std::ifstream& in) {
  check_range("score_scale", options.score_scale, 0, kMaxFloat, Bound::open);
  in.open(path, std::ios::binary);
  if (!in) throw Error(name + ": cannot open pairs file");
  if (ends_with(name, ".jsonl")) return std::make_unique<JsonlParser>(name, options, skipped);
  return std::make_unique<DelimitedParser>(name, options, skipped);
}

// A line as the parser takes it: without the CR of a CRLF end, and the first without a
// byte-order mark.
void trim_line(std::string& line, bool first) {
  if (first) strip_bom(line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
}

// Calls row(offset, example) for every example of the file, offset being where its line starts.
template <typename Row>
void scan(std::ifstream& in, const std::string& name, RowParser& parser, Row&& row) {
  std::string line;
  std::uint64_t offset = 0;
  for (std::size_t line_no = 1; std::getline(in, line); line_no++) {
    const std::uint64_t start = offset;
    offset += line.size() + 1;
    trim_line(line, line_no == 1);
    if (std::optional<Pair> pair = parser.parse(line, line_no)) row(start, std::move(*pair));
  }
  if (in.bad()) throw Error(name + ": read failed");
}

}  // namespace

PairData load_pairs(const std::filesystem::path& path, const PairFileOptions& options) {
  const std::string name = path.string();
  Skipped skipped;
  std::ifstream in;
  const std::unique_ptr<RowParser> parser = open_pairs(path, name, options, skipped, in);
  PairData out;
  scan(in, name, *parser,
       [&](std::uint64_t, Pair&& pair) { out.pairs.push_back(std::move(pair)); });
  if (out.pairs.empty()) throw Error(name + ": no usable pairs");
  out.skipped = skipped.count;
  out.first_skipped = std::move(skipped.first);
  return out;
}

struct PairFile::Impl {
  Impl(const std::filesystem::path& path, const PairFileOptions& options)
      : name(path.string()), options(options) {}
  std::string name;
  PairFileOptions options;  // the parser refers to these and to the name
  Skipped skipped;
  std::ifstream in;
  std::unique_ptr<RowParser> parser;
  std::vector<std::uint64_t> offsets;
  std::vector<double> scores;
  std::vector<std::uint32_t> texts;
  std::string line;
  Pair pair;
};

PairFile::PairFile(const std::filesystem::path& path, const PairFileOptions& options)
    : impl_(std::make_unique<Impl>(path, options)) {
  Impl& m = *impl_;
  m.parser = open_pairs(path, m.name, m.options, m.skipped, m.in);
  scan(m.in, m.name, *m.parser, [&](std::uint64_t offset, Pair&& pair) {
    m.offsets.push_back(offset);
    m.scores.push_back(pair.score);
    m.texts.push_back(static_cast<std::uint32_t>(pair.one_text ? 1 : 2 + pair.negatives.size()));
  });
  if (m.offsets.empty()) throw Error(m.name + ": no usable pairs");
}

PairFile::~PairFile() = default;

std::size_t PairFile::size() const {
  return impl_->offsets.size();
}
double PairFile::score(std::size_t i) const {
  return impl_->scores[i];
}
std::size_t PairFile::texts(std::size_t i) const {
  return impl_->texts[i];
}
std::size_t PairFile::skipped() const {
  return impl_->skipped.count;
}
const std::string& PairFile::first_skipped() const {
  return impl_->skipped.first;
}

const Pair& PairFile::at(std::size_t i) {
  Impl& m = *impl_;
  m.in.clear();
  m.in.seekg(static_cast<std::streamoff>(m.offsets[i]));
  const auto changed = [&] {
    return Error(m.name + ": changed while in use (the row at byte " +
                 std::to_string(m.offsets[i]) + " no longer reads as it did)");
  };
  if (!std::getline(m.in, m.line)) throw changed();
  trim_line(m.line, m.offsets[i] == 0);
  std::optional<Pair> pair;
  try {
    pair = m.parser->parse(m.line, 0);
  } catch (const Error&) {
    throw changed();
  }
  if (!pair) throw changed();
  m.pair = std::move(*pair);
  return m.pair;
}

}  // namespace simtune

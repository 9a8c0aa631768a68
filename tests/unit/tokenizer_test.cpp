// Tokenizer against Hugging Face's `tokenizers` (goldens written by scripts/oracle/*.js).
#include "simtune/text/tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "simtune/core/error.h"
#include "simtune/core/file.h"
#include "temp_dir.h"
#include "text/bert_text.h"
#include "text/utf8.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;

const fs::path kSource = SIMTUNE_SOURCE_DIR;
const fs::path kModel = kSource / "data/models/paraphrase-MiniLM-L6-v2";
const fs::path kGolden = kSource / "tests/golden";

std::vector<std::string> read_lines(const fs::path& path) {
  const std::string bytes = read_file(path);
  std::vector<std::string> lines;
  std::size_t begin = 0;
  while (begin < bytes.size()) {
    std::size_t end = bytes.find('\n', begin);
    if (end == std::string::npos) end = bytes.size();
    lines.push_back(bytes.substr(begin, end - begin));
    begin = end + 1;
  }
  return lines;
}

// One directory for the whole test process, removed at exit.
const fs::path& test_root() {
  static const testing::TempDir dir("tokenizer_test");
  return dir.path();
}

// A copy of the model directory without tokenizer.json, so the vocab.txt path is taken.
fs::path vocab_txt_model_dir() {
  const fs::path dir = test_root() / "vocab_txt";
  fs::create_directories(dir);
  for (const char* name : {"vocab.txt", "tokenizer_config.json", "special_tokens_map.json"}) {
    fs::copy_file(kModel / name, dir / name, fs::copy_options::overwrite_existing);
  }
  return dir;
}

std::string show_ids(const Tokenizer& tok, const std::vector<std::int32_t>& ids, std::size_t from) {
  std::ostringstream out;
  for (std::size_t i = from; i < std::min(ids.size(), from + 8); ++i) {
    out << ids[i] << "(" << tok.id_to_token(ids[i]) << ") ";
  }
  return out.str();
}

// Compares every line of a corpus with the oracle's ids, from encode and encode_with_offsets;
// reports the first few bad lines.
void check_golden(const Tokenizer& tok, const std::string& corpus, const std::string& expected,
                  std::size_t max_length) {
  const auto lines = read_lines(kGolden / corpus);
  const auto want = read_lines(kGolden / expected);
  ASSERT_EQ(lines.size(), want.size()) << corpus << " and " << expected << " differ in length";
  int failures = 0;
  for (std::size_t n = 0; n < lines.size(); ++n) {
    const auto ref = nlohmann::json::parse(want[n]).at("ids").get<std::vector<std::int32_t>>();
    const auto got = tok.encode(lines[n], max_length);
    // The offsets path tokenizes on its own code path; its offsets are checked against the
    // oracle by tests/python/test_tokenizer_offsets.py.
    const Encoding with_offsets = tok.encode_with_offsets(lines[n], max_length);
    EXPECT_EQ(with_offsets.ids, ref) << corpus << ":" << n + 1 << " (encode_with_offsets)";
    EXPECT_EQ(with_offsets.offsets.size(), ref.size()) << corpus << ":" << n + 1;
    if (got == ref) continue;
    std::size_t pos = 0;
    while (pos < got.size() && pos < ref.size() && got[pos] == ref[pos]) ++pos;
    ADD_FAILURE() << corpus << ":" << n + 1 << ": " << replace_invalid_utf8(lines[n])
                  << "\n  first difference at id " << pos << " (lengths " << got.size() << " vs "
                  << ref.size() << ")\n  oracle: " << show_ids(tok, ref, pos)
                  << "\n  simtune: " << show_ids(tok, got, pos);
    if (++failures == 10) return;
  }
}

TEST(TokenizerGolden, StressCorpusFromTokenizerJson) {
  const Tokenizer tok = Tokenizer::from_directory(kModel);
  check_golden(tok, "tokenizer_stress.txt", "tokenizer_stress.expected.jsonl", 128);
}

TEST(TokenizerGolden, StressCorpusFromVocabTxt) {
  const Tokenizer tok = Tokenizer::from_directory(vocab_txt_model_dir());
  check_golden(tok, "tokenizer_stress.txt", "tokenizer_stress.expected.jsonl", 128);
}

TEST(TokenizerGolden, LongLinesAt512) {
  const Tokenizer tok = Tokenizer::from_directory(kModel);
  check_golden(tok, "tokenizer_long.txt", "tokenizer_long.expected512.jsonl", 512);
  const Tokenizer from_vocab = Tokenizer::from_directory(vocab_txt_model_dir());
  check_golden(from_vocab, "tokenizer_long.txt", "tokenizer_long.expected512.jsonl", 512);
}

// Every code point through every normalizer stage and the pre-tokenizer, against the oracle's
// per-code-point dump (scripts/oracle/unicode_scan.js).
TEST(TokenizerUnicode, EveryCodePointMatchesOracle) {
  constexpr char32_t kEnd = 0x110000;
  std::map<std::string, std::vector<bool>> classes;
  for (const char* name : {"removed", "space", "chinese", "split_space", "split_punct"}) {
    classes[name].assign(kEnd, false);
  }
  std::map<std::string, std::unordered_map<char32_t, std::string>> maps;
  for (const std::string& line : read_lines(kGolden / "tokenizer_unicode.txt")) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    std::string kind, first;
    in >> kind >> first;
    const auto cp = static_cast<char32_t>(std::stoul(first, nullptr, 16));
    if (kind == "strip" || kind == "lower") {
      std::string arrow, hex, out;
      in >> arrow;
      while (in >> hex) text::append_utf8(static_cast<char32_t>(std::stoul(hex, nullptr, 16)), out);
      maps[kind][cp] = out;
    } else {
      std::string last;
      in >> last;
      ASSERT_TRUE(classes.contains(kind)) << line;
      const auto end = static_cast<char32_t>(std::stoul(last, nullptr, 16));
      for (char32_t c = cp; c <= end; ++c) classes[kind][c] = true;
    }
  }
  ASSERT_FALSE(maps["lower"].empty());

  auto stage = [](bool clean, bool chinese, bool strip, bool lower) {
    text::BertNormalizerOptions o;
    o.clean_text = clean;
    o.handle_chinese_chars = chinese;
    o.strip_accents = strip;
    o.lowercase = lower;
    return o;
  };
  const auto clean = stage(true, false, false, false);
  const auto chinese = stage(false, true, false, false);
  const auto strip = stage(false, false, true, false);
  const auto lower = stage(false, false, false, true);

  std::map<std::string, std::vector<char32_t>> bad;
  std::string ch, out;
  text::NormalizerScratch scratch;
  for (char32_t c = 0; c < kEnd; ++c) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    ch.clear();
    text::append_utf8(c, ch);
    text::bert_normalize(ch, clean, out, scratch);
    if ((out.empty()) != classes["removed"][c]) bad["removed"].push_back(c);
    if ((out == " " && c != ' ') != classes["space"][c]) bad["space"].push_back(c);
    text::bert_normalize(ch, chinese, out, scratch);
    if ((out == " " + ch + " ") != classes["chinese"][c]) bad["chinese"].push_back(c);
    int words = 0;
    text::bert_pre_tokenize("a" + ch + "a", [&](std::string_view) { return ++words, true; });
    if ((words == 2) != classes["split_space"][c]) bad["split_space"].push_back(c);
    if ((words == 3) != classes["split_punct"][c]) bad["split_punct"].push_back(c);
    for (const auto& [kind, options] : {std::pair{"strip", strip}, std::pair{"lower", lower}}) {
      text::bert_normalize(ch, options, out, scratch);
      const auto& m = maps[kind];
      const auto it = m.find(c);
      if (out != (it == m.end() ? ch : it->second)) bad[kind].push_back(c);
    }
  }
  for (const auto& [kind, cps] : bad) {
    std::ostringstream ranges;
    for (std::size_t i = 0; i < cps.size() && i < 4000;) {
      std::size_t j = i;
      while (j + 1 < cps.size() && cps[j + 1] == cps[j] + 1) ++j;
      ranges << std::hex << std::uppercase << " " << std::uint32_t(cps[i]);
      if (j > i) ranges << "-" << std::uint32_t(cps[j]);
      i = j + 1;
    }
    ADD_FAILURE() << kind << ": " << cps.size()
                  << " code points differ from the oracle:" << ranges.str();
  }
}

std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// Validity and repair against Python's UTF-8 decoder (strict, and errors="replace").
TEST(TokenizerUtf8, MatchesPythonDecoder) {
  const Tokenizer tok = Tokenizer::from_directory(kModel);
  int checked = 0;
  for (const std::string& line : read_lines(kGolden / "tokenizer_utf8.jsonl")) {
    const auto j = nlohmann::json::parse(line);
    const std::string bytes = from_hex(j.at("bytes").get<std::string>());
    const std::string replaced = from_hex(j.at("replaced").get<std::string>());
    const bool valid = j.at("valid").get<bool>();
    EXPECT_EQ(is_valid_utf8(bytes), valid) << j.at("bytes");
    EXPECT_EQ(replace_invalid_utf8(bytes), replaced) << j.at("bytes");
    EXPECT_TRUE(is_valid_utf8(replaced)) << j.at("bytes");
    if (valid) {
      EXPECT_NO_THROW(tok.encode(bytes, 128)) << j.at("bytes");
    } else {
      EXPECT_THROW(tok.encode(bytes, 128), Error) << j.at("bytes");
      EXPECT_NO_THROW(tok.encode(replaced, 128)) << j.at("bytes");
    }
    ++checked;
  }
  EXPECT_GT(checked, 2000);
}

// Truncation keeps the first ids and [SEP]: every max_length gives a prefix of the oracle's
// 512-token encoding closed by [SEP].
TEST(TokenizerTruncation, PrefixOfOracleEncodingAtEveryLength) {
  const Tokenizer tok = Tokenizer::from_directory(kModel);
  const auto lines = read_lines(kGolden / "tokenizer_long.txt");
  const auto want = read_lines(kGolden / "tokenizer_long.expected512.jsonl");
  ASSERT_EQ(lines.size(), want.size());
  for (std::size_t n = 0; n < lines.size(); ++n) {
    const auto full = nlohmann::json::parse(want[n]).at("ids").get<std::vector<std::int32_t>>();
    ASSERT_GE(full.size(), 3u);
    // Lines the oracle cut at 512 say nothing about longer limits.
    const std::size_t top = full.size() < 512 ? full.size() + 1 : 512;
    for (std::size_t max_length = 2; max_length <= top; ++max_length) {
      std::vector<std::int32_t> expect(full.begin(),
                                       full.begin() + std::min(max_length, full.size()) - 1);
      expect.push_back(full.back());
      ASSERT_EQ(tok.encode(lines[n], max_length), expect)
          << "tokenizer_long.txt:" << n + 1 << " at max_length " << max_length;
    }
  }
  EXPECT_THROW(tok.encode("hello", 1), Error);
  EXPECT_THROW(tok.encode("hello", 0), Error);
}

TEST(TokenizerLoad, SpecialTokensAndVocabularyAgreeAcrossFormats) {
  const Tokenizer a = Tokenizer::from_directory(kModel);
  const Tokenizer b = Tokenizer::from_directory(vocab_txt_model_dir());
  const auto vocab = read_lines(kModel / "vocab.txt");
  ASSERT_EQ(a.vocab_size(), vocab.size());
  ASSERT_EQ(b.vocab_size(), vocab.size());
  for (std::size_t id = 0; id < vocab.size(); ++id) {
    ASSERT_EQ(a.id_to_token(static_cast<std::int32_t>(id)), vocab[id]) << id;
    ASSERT_EQ(b.id_to_token(static_cast<std::int32_t>(id)), vocab[id]) << id;
  }
  for (const Tokenizer* t : {&a, &b}) {
    EXPECT_EQ(t->id_to_token(t->cls_id()), "[CLS]");
    EXPECT_EQ(t->id_to_token(t->sep_id()), "[SEP]");
    EXPECT_EQ(t->id_to_token(t->pad_id()), "[PAD]");
    EXPECT_EQ(t->id_to_token(t->unk_id()), "[UNK]");
    EXPECT_THROW(t->id_to_token(-1), Error);
    EXPECT_THROW(t->id_to_token(static_cast<std::int32_t>(vocab.size())), Error);
  }
}

// A model directory under the temp dir holding the given files.
fs::path scratch_dir(const std::string& name,
                     const std::vector<std::pair<std::string, std::string>>& files) {
  const fs::path dir = test_root() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& [file, bytes] : files) write_file_atomic(dir / file, bytes);
  return dir;
}

void expect_error_naming(const fs::path& dir, const std::string& needle) {
  try {
    Tokenizer::from_directory(dir);
    ADD_FAILURE() << dir << ": loaded, expected an error naming " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(TokenizerLoad, BadFilesThrowErrorsNamingThem) {
  const std::string json = read_file(kModel / "tokenizer.json");
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = json;
    const auto at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  expect_error_naming(scratch_dir("empty", {}), "no tokenizer.json or vocab.txt");
  expect_error_naming(scratch_dir("truncated", {{"tokenizer.json", json.substr(0, 500)}}),
                      "tokenizer.json: malformed JSON");
  expect_error_naming(
      scratch_dir("bpe", {{"tokenizer.json", replaced("\"type\": \"WordPiece\",\n    \"unk",
                                                      "\"type\": \"BPE\",\n    \"unk")}}),
      "model type \"BPE\" is not supported");
  expect_error_naming(
      scratch_dir("normalizer", {{"tokenizer.json", replaced("\"BertNormalizer\"", "\"NFKC\"")}}),
      "tokenizer.json: normalizer");
  expect_error_naming(
      scratch_dir("pre", {{"tokenizer.json", replaced("\"BertPreTokenizer\"", "\"Whitespace\"")}}),
      "tokenizer.json: pre_tokenizer");
  // A float id, which a plain integer conversion would turn into undefined behaviour.
  expect_error_naming(
      scratch_dir("floatid", {{"tokenizer.json", replaced("\"hello\": 7592", "\"hello\": 4e28")}}),
      "tokenizer.json: the id of \"hello\" is not an integer in range");
  expect_error_naming(scratch_dir("nounk", {{"vocab.txt", "[CLS]\n[SEP]\n[PAD]\nhello\n"}}),
                      "vocab.txt: unk_token \"[UNK]\" is not in the vocabulary");
  expect_error_naming(scratch_dir("badconfig", {{"vocab.txt", "[UNK]\n"},
                                                {"tokenizer_config.json", "{\"do_lower_case\":"}}),
                      "tokenizer_config.json: malformed JSON");
}

}  // namespace
}  // namespace simtune

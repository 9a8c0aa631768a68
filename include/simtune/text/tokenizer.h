// BERT tokenizer (Hugging Face BertNormalizer + BertPreTokenizer + WordPiece + [CLS]/[SEP]).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace simtune {

// The bytes [begin, end) of a tokenizer's input that a token stands for.
struct TokenOffsets {
  std::size_t begin = 0;
  std::size_t end = 0;
};

struct Encoding {
  std::vector<std::int32_t> ids;
  // One per id, as Hugging Face's Encoding offsets but in bytes: [CLS] and [SEP] have {0, 0}; a
  // word piece covers the characters of the original text it came from (before lowercasing,
  // accent stripping and control-char removal); [UNK] covers its whole word.
  std::vector<TokenOffsets> offsets;
};

class Tokenizer {
 public:
  // Loads tokenizer.json when the directory has one, else vocab.txt + tokenizer_config.json.
  // Special tokens are looked up by name in the vocabulary, never assumed.
  static Tokenizer from_directory(const std::filesystem::path& dir);

  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // Lowercase every text with Python's str.lower() before tokenizing, as sentence-transformers'
  // Transformer does when sentence_bert_config.json sets do_lower_case.
  void set_lowercase_input(bool on);

  // [CLS] tokens(text) [SEP], truncated to at most max_length ids (the specials are kept).
  // Throws Error when `text` is not valid UTF-8.
  std::vector<std::int32_t> encode(std::string_view text, std::size_t max_length) const;
  // encode(), with where each token came from in `text`. It tracks every char through the
  // normalizer, so the embedding path keeps to encode().
  Encoding encode_with_offsets(std::string_view text, std::size_t max_length) const;

  const std::string& id_to_token(std::int32_t id) const;
  std::size_t vocab_size() const;
  std::int32_t pad_id() const;
  std::int32_t cls_id() const;
  std::int32_t sep_id() const;
  std::int32_t unk_id() const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// UTF-8 validity as the tokenizer requires it (no overlongs, surrogates or code points > 10FFFF).
bool is_valid_utf8(std::string_view text);
// Copy of `text` with every invalid sequence replaced by U+FFFD.
std::string replace_invalid_utf8(std::string_view text);

}  // namespace simtune

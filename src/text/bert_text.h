// Hugging Face's BertNormalizer and BertPreTokenizer (tokenizers/src/normalizers/bert.rs,
// tokenizers/src/pre_tokenizers/bert.rs), on valid UTF-8.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "text/unicode.h"
#include "text/utf8.h"

namespace simtune::text {

struct BertNormalizerOptions {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool strip_accents = true;
  bool lowercase = true;
};

// Reusable buffers, so that normalizing allocates only while they grow.
struct NormalizerScratch {
  std::u32string a;
  std::u32string b;
  // The source of each char in a and b, for bert_normalize_with_origin.
  std::vector<std::uint32_t> origin_a;
  std::vector<std::uint32_t> origin_b;
};

// Replaces `out` with the normalized `text`. The stages run in the oracle's order: clean_text,
// CJK padding, strip accents (NFD, drop Mn), lowercase.
void bert_normalize(std::string_view text, const BertNormalizerOptions& options, std::string& out,
                    NormalizerScratch& scratch);
// bert_normalize, and for each byte of `out` the offset in `text` of the char it came from (the
// alignment Hugging Face's NormalizedString keeps: a char a stage expands, such as a
// decomposition, a lowercase mapping or a padded CJK char, stays with its source char; removed
// chars leave no trace).
void bert_normalize_with_origin(std::string_view text, const BertNormalizerOptions& options,
                                std::string& out, std::vector<std::uint32_t>& origin,
                                NormalizerScratch& scratch);

// Calls on_word(std::string_view) for each pre-token of normalized text: whitespace separates
// words and is dropped, every punctuation char is a word of its own. Stops early when on_word
// returns false; returns false then.
template <typename OnWord>
bool bert_pre_tokenize(std::string_view text, OnWord&& on_word) {
  std::size_t word_begin = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t char_begin = i;
    const char32_t c = next_code_point(text, i);
    const bool space = is_whitespace(c);
    if (!space && !is_punctuation(c)) continue;
    if (char_begin > word_begin && !on_word(text.substr(word_begin, char_begin - word_begin))) {
      return false;
    }
    if (!space && !on_word(text.substr(char_begin, i - char_begin))) return false;
    word_begin = i;
  }
  if (text.size() > word_begin) return on_word(text.substr(word_begin));
  return true;
}

}  // namespace simtune::text

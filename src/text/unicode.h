// Per-character Unicode classes exactly as Hugging Face's BERT normalizer and pre-tokenizer see
// them. utf8proc supplies the data; src/text/unicode.cpp patches the code points where the
// oracle's older Rust tables disagree with it (tests/golden/tokenizer_unicode.txt has them all).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace simtune::text {

// clean_text drops these: \0, U+FFFD and "other" chars (Cc, Cf, Co) except \t \n \r.
bool is_removed_by_clean_text(char32_t c);
// Rust's char::is_whitespace (the White_Space property); \t \n \r are in it.
bool is_whitespace(char32_t c);
// The CJK ideograph blocks BERT pads with spaces (a fixed list of ranges, not a Unicode class).
bool is_chinese_char(char32_t c);
// BertPreTokenizer isolates these: ASCII punctuation and general categories P*.
bool is_punctuation(char32_t c);
// strip_accents drops these after NFD: general category Mn.
bool is_nonspacing_mark(char32_t c);
// Appends the full canonical decomposition of c (Hangul included), not yet reordered.
void append_nfd(char32_t c, std::u32string& out);
// Canonical combining class, for the canonical reordering step of NFD.
int combining_class(char32_t c);
// Appends Rust's char::to_lowercase(c): the full mapping (U+0130 gives two chars).
void append_lowercase(char32_t c, std::u32string& out);
// Python's str.lower() of valid UTF-8: the full lowercase mapping, and capital sigma as final
// sigma at the end of a word (Unicode's Final_Sigma condition), as CPython does.
std::string python_lower(std::string_view text);
// python_lower, and for each byte of the result the offset in `text` of the char it came from.
std::string python_lower_with_origin(std::string_view text, std::vector<std::uint32_t>& origin);

}  // namespace simtune::text

#include "text/bert_text.h"

#include <algorithm>
#include <utility>

namespace simtune::text {
namespace {

bool is_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char ch) { return static_cast<unsigned char>(ch) < 0x80; });
}

// ASCII has no decompositions, marks or CJK, so only clean_text and lowercase can act on it.
void normalize_ascii(std::string_view text, const BertNormalizerOptions& options,
                     std::string& out) {
  for (const char ch : text) {
    char32_t c = static_cast<unsigned char>(ch);
    if (options.clean_text) {
      if (is_removed_by_clean_text(c)) continue;
      if (is_whitespace(c)) c = ' ';
    }
    if (options.lowercase && c >= 'A' && c <= 'Z') c += 'a' - 'A';
    out.push_back(static_cast<char>(c));
  }
}

// Stable insertion sort of each run of non-starters by combining class (Unicode's canonical
// ordering algorithm), the last step of NFD.
void canonical_reorder(std::u32string& s) {
  for (std::size_t i = 1; i < s.size(); ++i) {
    const int cc = combining_class(s[i]);
    if (cc == 0) continue;
    std::size_t j = i;
    while (j > 0 && combining_class(s[j - 1]) > cc) {
      std::swap(s[j - 1], s[j]);
      --j;
    }
  }
}

}  // namespace

void bert_normalize(std::string_view text, const BertNormalizerOptions& options, std::string& out,
                    NormalizerScratch& scratch) {
  out.clear();
  if (is_ascii(text)) {
    normalize_ascii(text, options, out);
    return;
  }
  std::u32string& chars = scratch.a;
  chars.clear();
  std::size_t i = 0;
  while (i < text.size()) {
    char32_t c = next_code_point(text, i);
    if (options.clean_text) {
      if (is_removed_by_clean_text(c)) continue;
      if (is_whitespace(c)) c = ' ';
    }
    if (options.handle_chinese_chars && is_chinese_char(c)) {
      chars.push_back(' ');
      chars.push_back(c);
      chars.push_back(' ');
    } else {
      chars.push_back(c);
    }
  }
  if (options.strip_accents) {
    std::u32string& nfd = scratch.b;
    nfd.clear();
    for (const char32_t c : chars) append_nfd(c, nfd);
    canonical_reorder(nfd);
    chars.clear();
    for (const char32_t c : nfd) {
      if (!is_nonspacing_mark(c)) chars.push_back(c);
    }
  }
  if (options.lowercase) {
    std::u32string& lower = scratch.b;
    lower.clear();
    for (const char32_t c : chars) append_lowercase(c, lower);
    std::swap(chars, lower);
  }
  for (const char32_t c : chars) append_utf8(c, out);
}

}  // namespace simtune::text

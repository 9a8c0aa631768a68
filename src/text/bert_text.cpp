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
template <bool kOrigin>
void normalize_ascii(std::string_view text, const BertNormalizerOptions& options, std::string& out,
                     [[maybe_unused]] std::vector<std::uint32_t>* origin) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    char32_t c = static_cast<unsigned char>(text[i]);
    if (options.clean_text) {
      if (is_removed_by_clean_text(c)) continue;
      if (is_whitespace(c)) c = ' ';
    }
    if (options.lowercase && c >= 'A' && c <= 'Z') c += 'a' - 'A';
    out.push_back(static_cast<char>(c));
    if constexpr (kOrigin) origin->push_back(static_cast<std::uint32_t>(i));
  }
}

// Stable insertion sort of each run of non-starters by combining class (Unicode's canonical
// ordering algorithm), the last step of NFD. With kOrigin, `origin` is permuted alongside.
template <bool kOrigin>
void canonical_reorder(std::u32string& s, [[maybe_unused]] std::vector<std::uint32_t>& origin) {
  for (std::size_t i = 1; i < s.size(); ++i) {
    const int cc = combining_class(s[i]);
    if (cc == 0) continue;
    std::size_t j = i;
    while (j > 0 && combining_class(s[j - 1]) > cc) {
      std::swap(s[j - 1], s[j]);
      if constexpr (kOrigin) std::swap(origin[j - 1], origin[j]);
      --j;
    }
  }
}

// bert_normalize; with kOrigin, also the source offset of each output byte. The origin vectors
// go untouched without it, so the plain path does no more than it did.
template <bool kOrigin>
void normalize(std::string_view text, const BertNormalizerOptions& options, std::string& out,
               [[maybe_unused]] std::vector<std::uint32_t>* origin, NormalizerScratch& scratch) {
  out.clear();
  if constexpr (kOrigin) origin->clear();
  if (is_ascii(text)) {
    normalize_ascii<kOrigin>(text, options, out, origin);
    return;
  }
  std::u32string& chars = scratch.a;
  std::vector<std::uint32_t>& from = scratch.origin_a;
  chars.clear();
  if constexpr (kOrigin) from.clear();
  auto push = [&](char32_t c, [[maybe_unused]] std::uint32_t at) {
    chars.push_back(c);
    if constexpr (kOrigin) from.push_back(at);
  };
  std::size_t i = 0;
  while (i < text.size()) {
    const auto at = static_cast<std::uint32_t>(i);
    char32_t c = next_code_point(text, i);
    if (options.clean_text) {
      if (is_removed_by_clean_text(c)) continue;
      if (is_whitespace(c)) c = ' ';
    }
    if (options.handle_chinese_chars && is_chinese_char(c)) {
      push(' ', at);
      push(c, at);
      push(' ', at);
    } else {
      push(c, at);
    }
  }
  // Expands every char of `chars` with `step` into scratch.b, each piece keeping its source.
  auto expand = [&](auto&& step) {
    std::u32string& next = scratch.b;
    std::vector<std::uint32_t>& next_from = scratch.origin_b;
    next.clear();
    if constexpr (kOrigin) next_from.clear();
    for (std::size_t k = 0; k < chars.size(); ++k) {
      step(chars[k], next);
      if constexpr (kOrigin) next_from.resize(next.size(), from[k]);
    }
  };
  if (options.strip_accents) {
    if constexpr (kOrigin) {
      // The oracle's NFD tags each char it emits as the first of its source char or one more
      // from it, reorders the tags with the chars, then takes sources in order by the tags:
      // a first char takes the next source char, any other the source taken last.
      std::u32string& next = scratch.b;
      std::vector<std::uint32_t>& first = scratch.origin_b;
      next.clear();
      first.clear();
      for (const char32_t c : chars) {
        const std::size_t begin = next.size();
        append_nfd(c, next);
        first.resize(next.size(), 0);
        first[begin] = 1;
      }
    } else {
      expand([](char32_t c, std::u32string& o) { append_nfd(c, o); });
    }
    canonical_reorder<kOrigin>(scratch.b, scratch.origin_b);
    if constexpr (kOrigin) {
      std::size_t taken = 0;
      std::uint32_t last = 0;
      for (std::uint32_t& o : scratch.origin_b) {
        if (o == 1) last = from[taken++];
        o = last;
      }
    }
    chars.clear();
    if constexpr (kOrigin) from.clear();
    for (std::size_t k = 0; k < scratch.b.size(); ++k) {
      if (is_nonspacing_mark(scratch.b[k])) continue;
      chars.push_back(scratch.b[k]);
      if constexpr (kOrigin) from.push_back(scratch.origin_b[k]);
    }
  }
  if (options.lowercase) {
    expand([](char32_t c, std::u32string& o) { append_lowercase(c, o); });
    std::swap(chars, scratch.b);
    if constexpr (kOrigin) std::swap(from, scratch.origin_b);
  }
  for (std::size_t k = 0; k < chars.size(); ++k) {
    append_utf8(chars[k], out);
    if constexpr (kOrigin) origin->resize(out.size(), from[k]);
  }
}

}  // namespace

void bert_normalize(std::string_view text, const BertNormalizerOptions& options, std::string& out,
                    NormalizerScratch& scratch) {
  normalize<false>(text, options, out, nullptr, scratch);
}

void bert_normalize_with_origin(std::string_view text, const BertNormalizerOptions& options,
                                std::string& out, std::vector<std::uint32_t>& origin,
                                NormalizerScratch& scratch) {
  normalize<true>(text, options, out, &origin, scratch);
}

}  // namespace simtune::text

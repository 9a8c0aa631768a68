#include "text/unicode.h"

#include <utf8proc.h>

#include <algorithm>
#include <iterator>
#include <span>

#include "simtune/core/check.h"
#include "text/oracle_unicode_tables.h"
#include "text/utf8.h"

namespace simtune::text {
namespace {

using oracle::Range;

bool in_ranges(std::span<const Range> ranges, char32_t c) {
  // Ranges are sorted and disjoint: find the first whose end is >= c.
  auto it = std::lower_bound(ranges.begin(), ranges.end(), c,
                             [](const Range& r, char32_t v) { return r.last < v; });
  return it != ranges.end() && it->first <= c;
}

// The White_Space property (utf8proc does not expose it). Unchanged since Unicode 6.3.
constexpr Range kWhiteSpace[] = {
    {0x0009, 0x000D}, {0x0020, 0x0020}, {0x0085, 0x0085}, {0x00A0, 0x00A0}, {0x1680, 0x1680},
    {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000}};

// tokenizers' normalizers/bert.rs is_chinese_char, copied range for range from the original
// BERT code (it is a list of blocks, not a Unicode property, so no version drift).
constexpr Range kChinese[] = {{0x3400, 0x4DBF},   {0x4E00, 0x9FFF},   {0xF900, 0xFAFF},
                              {0x20000, 0x2A6DF}, {0x2A700, 0x2B73F}, {0x2B740, 0x2B81F},
                              {0x2B920, 0x2CEAF}, {0x2F800, 0x2FA1F}};

utf8proc_category_t category(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}

}  // namespace

bool is_removed_by_clean_text(char32_t c) {
  if (c == 0 || c == 0xFFFD) return true;
  if (c == '\t' || c == '\n' || c == '\r') return false;
  if (in_ranges(oracle::kOracleKept, c)) return false;
  const auto cat = category(c);
  return cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_CO;
}

bool is_whitespace(char32_t c) {
  return in_ranges(kWhiteSpace, c);
}

bool is_chinese_char(char32_t c) {
  return in_ranges(kChinese, c);
}

bool is_punctuation(char32_t c) {
  if (c < 0x80) {
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
           (c >= 0x7B && c <= 0x7E);
  }
  if (in_ranges(oracle::kOraclePunct, c)) return true;
  if (in_ranges(oracle::kOracleNotPunct, c)) return false;
  const auto cat = category(c);
  return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

bool is_nonspacing_mark(char32_t c) {
  if (c < 0x300) return false;  // the first Mn is U+0300
  if (in_ranges(oracle::kOracleMn, c)) return true;
  if (in_ranges(oracle::kOracleNotMn, c)) return false;
  return category(c) == UTF8PROC_CATEGORY_MN;
}

void append_nfd(char32_t c, std::u32string& out) {
  if (c < 0xC0 || in_ranges(oracle::kOracleNoDecomposition, c)) {  // U+00C0 decomposes first
    out.push_back(c);
    return;
  }
  // Canonical decompositions are at most 4 code points long.
  utf8proc_int32_t buf[8];
  int last_boundclass = 0;
  const utf8proc_ssize_t n = utf8proc_decompose_char(
      static_cast<utf8proc_int32_t>(c), buf, std::size(buf), UTF8PROC_DECOMPOSE, &last_boundclass);
  SIMTUNE_CHECK(n >= 1 && n <= static_cast<utf8proc_ssize_t>(std::size(buf)));
  for (utf8proc_ssize_t k = 0; k < n; ++k) out.push_back(static_cast<char32_t>(buf[k]));
}

int combining_class(char32_t c) {
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class;
}

void append_lowercase(char32_t c, std::u32string& out) {
  const auto* it =
      std::lower_bound(std::begin(oracle::kOracleLowercase), std::end(oracle::kOracleLowercase), c,
                       [](const oracle::Lowercase& m, char32_t v) { return m.from < v; });
  if (it != std::end(oracle::kOracleLowercase) && it->from == c) {
    for (const char32_t to : it->to) {
      if (to != 0) out.push_back(to);
    }
    return;
  }
  out.push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
}

namespace {

// Unicode's Cased: letters with case (Lu, Ll, Lt) and the others that change under a case map.
bool is_cased(char32_t c) {
  const auto cat = category(c);
  if (cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT) {
    return true;
  }
  const auto v = static_cast<utf8proc_int32_t>(c);
  return utf8proc_tolower(v) != v || utf8proc_toupper(v) != v;
}

// Unicode's Case_Ignorable: marks, format characters, modifiers, and the Word_Break MidLetter /
// MidNumLet / Single_Quote characters.
bool is_case_ignorable(char32_t c) {
  switch (category(c)) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_SK:
      return true;
    default:
      break;
  }
  constexpr char32_t kMid[] = {0x27,   0x2E,   0x3A,   0xB7,   0x387,  0x5F4,  0x2018, 0x2019,
                               0x2024, 0x2027, 0xFE13, 0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A};
  return std::find(std::begin(kMid), std::end(kMid), c) != std::end(kMid);
}

// Whether a cased character, skipping case-ignorable ones, lies in chars[from..) walking by step.
bool cased_beside(const std::u32string& chars, std::ptrdiff_t from, std::ptrdiff_t step) {
  for (std::ptrdiff_t i = from; i >= 0 && i < static_cast<std::ptrdiff_t>(chars.size());
       i += step) {
    const char32_t c = chars[static_cast<std::size_t>(i)];
    if (!is_case_ignorable(c)) return is_cased(c);
  }
  return false;
}

// python_lower, and the source offset of each output byte when `origin` is given.
std::string lower_text(std::string_view text, std::vector<std::uint32_t>* origin) {
  std::u32string chars;
  std::vector<std::uint32_t> starts;
  for (std::size_t i = 0; i < text.size();) {
    starts.push_back(static_cast<std::uint32_t>(i));
    chars.push_back(next_code_point(text, i));
  }
  std::string out;
  out.reserve(text.size());
  if (origin) origin->clear();
  for (std::size_t i = 0; i < chars.size(); i++) {
    const char32_t c = chars[i];
    const auto k = static_cast<std::ptrdiff_t>(i);
    if (c == 0x130) {  // SpecialCasing: i + combining dot above
      append_utf8(0x69, out);
      append_utf8(0x307, out);
    } else if (c == 0x3A3) {
      const bool final = cased_beside(chars, k - 1, -1) && !cased_beside(chars, k + 1, 1);
      append_utf8(final ? 0x3C2 : 0x3C3, out);
    } else {
      append_utf8(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))), out);
    }
    if (origin) origin->resize(out.size(), starts[i]);
  }
  return out;
}

}  // namespace

std::string python_lower(std::string_view text) {
  return lower_text(text, nullptr);
}

std::string python_lower_with_origin(std::string_view text, std::vector<std::uint32_t>& origin) {
  return lower_text(text, &origin);
}

}  // namespace simtune::text

#include "text/utf8.h"

#include <cstdint>
#include <cstring>

#include "simtune/text/tokenizer.h"

namespace simtune {
namespace text {

std::size_t valid_sequence_length(std::string_view s, std::size_t i, std::size_t& maximal) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  std::size_t need;
  // The second byte's range is narrowed for the leads that could otherwise encode overlongs
  // (E0, F0), surrogates (ED) or code points above U+10FFFF (F4).
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    maximal = 1;
    return 0;
  }
  std::size_t k = 1;
  for (; k < need; ++k) {
    if (i + k >= s.size()) break;
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) break;
  }
  if (k == need) return need;
  maximal = k;
  return 0;
}

}  // namespace text

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  std::size_t maximal = 0;
  while (i < text.size()) {
    // ASCII runs are by far the common case; skip them 8 bytes at a time.
    while (i + 8 <= text.size()) {
      std::uint64_t word;
      std::memcpy(&word, text.data() + i, 8);
      if (word & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= text.size()) break;
    const std::size_t n = text::valid_sequence_length(text, i, maximal);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string replace_invalid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  std::size_t maximal = 0;
  while (i < text.size()) {
    const std::size_t n = text::valid_sequence_length(text, i, maximal);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      i += maximal;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

}  // namespace simtune

#include "text/wordpiece.h"

#include <algorithm>

#include "simtune/core/check.h"

namespace simtune::text {
namespace {

bool is_continuation_byte(char ch) {
  return (static_cast<unsigned char>(ch) & 0xC0) == 0x80;
}

}  // namespace

WordPiece::WordPiece(const Vocab& vocab, std::string_view unk_token,
                     std::string_view continuing_prefix, std::size_t max_input_chars_per_word)
    : initial_(vocab), max_input_chars_per_word_(max_input_chars_per_word) {
  const auto unk = vocab.find(unk_token);
  SIMTUNE_CHECK(unk != vocab.end());
  unk_id_ = unk->second;
  for (const auto& [token, id] : vocab) {
    max_piece_bytes_ = std::max(max_piece_bytes_, token.size());
    if (token.starts_with(continuing_prefix)) {
      continuation_.emplace(token.substr(continuing_prefix.size()), id);
    }
  }
}

void WordPiece::encode_word(std::string_view word, std::vector<std::int32_t>& out) const {
  encode<false>(word, out, nullptr);
}

void WordPiece::encode_word(std::string_view word, std::vector<std::int32_t>& out,
                            std::vector<TokenOffsets>& offsets) const {
  encode<true>(word, out, &offsets);
}

template <bool kOffsets>
void WordPiece::encode(std::string_view word, std::vector<std::int32_t>& out,
                       [[maybe_unused]] std::vector<TokenOffsets>* offsets) const {
  const auto chars = static_cast<std::size_t>(
      std::count_if(word.begin(), word.end(), [](char ch) { return !is_continuation_byte(ch); }));
  if (chars > max_input_chars_per_word_) {
    out.push_back(unk_id_);
    if constexpr (kOffsets) offsets->push_back({0, word.size()});
    return;
  }
  const std::size_t first_piece = out.size();
  std::size_t start = 0;
  while (start < word.size()) {
    const Vocab& pieces = start == 0 ? initial_ : continuation_;
    // No piece is longer than the longest vocabulary entry, so longer candidates are skipped.
    std::size_t end = std::min(word.size(), start + max_piece_bytes_);
    bool found = false;
    for (; end > start; --end) {
      if (end < word.size() && is_continuation_byte(word[end])) continue;
      const auto it = pieces.find(word.substr(start, end - start));
      if (it != pieces.end()) {
        out.push_back(it->second);
        if constexpr (kOffsets) offsets->push_back({start, end});
        found = true;
        break;
      }
    }
    if (!found) {
      // One unmatchable piece makes the whole word unknown, as in the oracle.
      out.resize(first_piece);
      out.push_back(unk_id_);
      if constexpr (kOffsets) {
        offsets->resize(first_piece);
        offsets->push_back({0, word.size()});
      }
      return;
    }
    start = end;
  }
}

}  // namespace simtune::text

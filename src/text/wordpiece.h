// Hugging Face's WordPiece model (tokenizers/src/models/wordpiece/mod.rs): greedy longest match
// from the start of each word, continuation pieces carry a prefix ("##").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "simtune/text/tokenizer.h"

namespace simtune::text {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using Vocab = std::unordered_map<std::string, std::int32_t, StringHash, std::equal_to<>>;

class WordPiece {
 public:
  // `vocab` maps token to id; unk_token must be in it.
  WordPiece(const Vocab& vocab, std::string_view unk_token, std::string_view continuing_prefix,
            std::size_t max_input_chars_per_word);

  // Appends the ids of one pre-tokenized word (valid UTF-8, non-empty).
  void encode_word(std::string_view word, std::vector<std::int32_t>& out) const;
  // encode_word, and for each id appended, the bytes of `word` it stands for (the whole word for
  // [UNK]), as the oracle's token offsets. `offsets` runs parallel to `out`.
  void encode_word(std::string_view word, std::vector<std::int32_t>& out,
                   std::vector<TokenOffsets>& offsets) const;

  std::int32_t unk_id() const { return unk_id_; }

 private:
  template <bool kOffsets>
  void encode(std::string_view word, std::vector<std::int32_t>& out,
              std::vector<TokenOffsets>* offsets) const;

  // Word-initial pieces keyed by their text, continuation pieces keyed without their prefix, so
  // lookups take a view into the word and never build a string.
  Vocab initial_;
  Vocab continuation_;
  std::size_t max_piece_bytes_ = 0;
  std::size_t max_input_chars_per_word_;
  std::int32_t unk_id_;
};

}  // namespace simtune::text

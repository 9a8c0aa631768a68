// libFuzzer target: any bytes either tokenize into [CLS] ... [SEP] within max_length, or are
// rejected as invalid UTF-8 with simtune::Error; anything else (crash, other exception, bad ids)
// is a bug. encode_with_offsets, with and without do_lower_case's lowercasing, must give the same
// ids as encode and offsets that are whole characters of the text. The model directory is
// $SIMTUNE_TOKENIZER_DIR, else the repository's MiniLM copy.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string_view>

#include "simtune/core/error.h"
#include "simtune/text/tokenizer.h"

#ifndef SIMTUNE_SOURCE_DIR
#error "SIMTUNE_SOURCE_DIR must name the repository root"
#endif

namespace {

simtune::Tokenizer load(bool lowercase_input) {
  const char* dir = std::getenv("SIMTUNE_TOKENIZER_DIR");
  simtune::Tokenizer tok = simtune::Tokenizer::from_directory(
      dir != nullptr
          ? std::filesystem::path(dir)
          : std::filesystem::path(SIMTUNE_SOURCE_DIR) / "data/models/paraphrase-MiniLM-L6-v2");
  tok.set_lowercase_input(lowercase_input);
  return tok;
}

const simtune::Tokenizer& tokenizer(bool lowercase_input) {
  static const simtune::Tokenizer plain = load(false);
  static const simtune::Tokenizer lowering = load(true);
  return lowercase_input ? lowering : plain;
}

bool char_boundary(std::string_view text, std::size_t at) {
  return at == text.size() || (static_cast<unsigned char>(text[at]) & 0xC0) != 0x80;
}

// Offsets parallel to the ids: {0, 0} for [CLS] and [SEP], whole characters of `text` otherwise.
void check_offsets(const simtune::Tokenizer& tok, std::string_view text, std::size_t max_length) {
  const simtune::Encoding e = tok.encode_with_offsets(text, max_length);
  if (e.ids != tok.encode(text, max_length) || e.offsets.size() != e.ids.size()) std::abort();
  for (std::size_t k = 0; k < e.offsets.size(); ++k) {
    const simtune::TokenOffsets& o = e.offsets[k];
    if (k == 0 || k + 1 == e.offsets.size()) {
      if (o.begin != 0 || o.end != 0) std::abort();
    } else if (o.begin >= o.end || o.end > text.size() || !char_boundary(text, o.begin) ||
               !char_boundary(text, o.end)) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const simtune::Tokenizer& tok = tokenizer(false);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // The first byte picks the limit so truncation is fuzzed too; the rest is the text.
  const std::size_t max_length = size == 0 ? 128 : 2 + data[0] % 160;
  const bool valid = simtune::is_valid_utf8(text);
  if (!simtune::is_valid_utf8(simtune::replace_invalid_utf8(text))) std::abort();
  if (valid && simtune::replace_invalid_utf8(text) != text) std::abort();
  try {
    const auto ids = tok.encode(text, max_length);
    if (!valid || ids.size() < 2 || ids.size() > max_length) std::abort();
    if (ids.front() != tok.cls_id() || ids.back() != tok.sep_id()) std::abort();
    for (const std::int32_t id : ids) {
      if (id < 0 || static_cast<std::size_t>(id) >= tok.vocab_size()) std::abort();
    }
    check_offsets(tok, text, max_length);
    check_offsets(tokenizer(true), text, max_length);
  } catch (const simtune::Error&) {
    if (valid) std::abort();
  }
  return 0;
}

// libFuzzer target: any bytes either tokenize into [CLS] ... [SEP] within max_length, or are
// rejected as invalid UTF-8 with simtune::Error; anything else (crash, other exception, bad ids)
// is a bug. The model directory is $SIMTUNE_TOKENIZER_DIR, else the repository's MiniLM copy.
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

const simtune::Tokenizer& tokenizer() {
  static const simtune::Tokenizer tok = [] {
    const char* dir = std::getenv("SIMTUNE_TOKENIZER_DIR");
    return simtune::Tokenizer::from_directory(dir != nullptr
                                                  ? std::filesystem::path(dir)
                                                  : std::filesystem::path(SIMTUNE_SOURCE_DIR) /
                                                        "data/models/paraphrase-MiniLM-L6-v2");
  }();
  return tok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const simtune::Tokenizer& tok = tokenizer();
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
  } catch (const simtune::Error&) {
    if (valid) std::abort();
  }
  return 0;
}

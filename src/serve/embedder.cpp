#include "serve/embedder.h"

#include <algorithm>
#include <limits>
#include <string>

#include "simtune/core/error.h"
#include "simtune/encode/encode_texts.h"

namespace simtune::serve {

Embedder::Embedder(const Encoder& encoder, Batcher& batcher, bool auto_truncate,
                   std::size_t max_client_batch_size)
    : encoder_(encoder),
      batcher_(batcher),
      auto_truncate_(auto_truncate),
      max_client_batch_size_(max_client_batch_size) {}

Embedder::Prompt Embedder::prompt(const std::string& name) const {
  EncodeOptions options;
  options.prompt_name = name;
  Prompt p;
  try {
    p.text = resolve_prompt(encoder_.files(), options);
    // An empty prompt is no prompt, as in encode_texts.
    if (!p.text.empty()) {
      p.length = encoder_.tokenizer().encode(p.text, encoder_.max_seq_length()).size() - 1;
    }
  } catch (const Error& e) {
    throw ApiError(422, "Validation", e.what());
  }
  return p;
}

TokenIds Embedder::token_ids(const Input& input, bool truncate, bool left,
                             const Prompt& prompt) const {
  const std::size_t max_len = encoder_.max_seq_length();
  const Tokenizer& tokenizer = encoder_.tokenizer();
  TokenIds ids;
  if (input.ids) {
    ids = *input.ids;
    if (ids.empty()) throw ApiError(422, "Validation", "`input` cannot be an empty list of ids");
    for (std::int32_t id : ids) {
      if (static_cast<std::size_t>(id) >= tokenizer.vocab_size()) {
        throw ApiError(422, "Validation",
                       "token id " + std::to_string(id) + " is outside the vocabulary (size " +
                           std::to_string(tokenizer.vocab_size()) + ")");
      }
    }
    if (ids.size() > max_len && truncate) ids.resize(max_len);
  } else {
    if (input.text.empty()) throw ApiError(422, "Validation", "`inputs` cannot be empty");
    try {
      // Right truncation (and the length check) need one token past the limit; left needs all.
      ids = tokenizer.encode(prompt.text + input.text, left && truncate
                                                           ? std::numeric_limits<std::size_t>::max()
                                                           : max_len + 1);
    } catch (const Error& e) {
      throw ApiError(422, "Tokenizer", e.what());
    }
    if (ids.size() > max_len && truncate) {
      // [CLS] body [SEP]: keep the body's first or last ids, as tokenizers does. Cutting on the
      // left keeps the prompt, whose length pooling relies on.
      const std::size_t head = left ? std::max<std::size_t>(prompt.length, 1) : 1;
      const std::size_t keep = max_len - std::min(max_len, head + 1);
      if (left)
        ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(head),
                  ids.end() - 1 - static_cast<std::ptrdiff_t>(keep));
      else
        ids.erase(ids.begin() + 1 + static_cast<std::ptrdiff_t>(max_len - 2), ids.end() - 1);
    }
  }
  if (ids.size() > max_len) {
    throw ApiError(422, "Validation",
                   "`inputs` must have less than " + std::to_string(max_len + 1) +
                       " tokens; give `truncate: true` or start the server with --auto-truncate");
  }
  return ids;
}

Embedded Embedder::embed(const EmbedRequest& request) const {
  const std::size_t n = request.inputs.size();
  if (n == 0) throw ApiError(422, "Empty", "`inputs` cannot be an empty list");
  if (n > max_client_batch_size_) {
    throw ApiError(413, "Validation",
                   "batch size " + std::to_string(n) + " > maximum allowed batch size " +
                       std::to_string(max_client_batch_size_));
  }
  const std::size_t dim = encoder_.dimension();
  if (request.dimensions > dim) {
    throw ApiError(422, "Validation",
                   "`dimensions` " + std::to_string(request.dimensions) +
                       " is more than the model's " + std::to_string(dim));
  }
  const bool truncate = request.truncate.value_or(auto_truncate_);
  // Token ids a client sent are what the model sees: no prompt goes in front of them.
  const Prompt p = request.inputs.front().ids ? Prompt{} : prompt(request.prompt_name);
  std::vector<TokenIds> ids;
  ids.reserve(n);
  Embedded out;
  for (const Input& input : request.inputs) {
    ids.push_back(token_ids(input, truncate, request.truncate_left, p));
    out.tokens += ids.back().size();
  }
  // TEI cuts the pooled vector to `dimensions` first and normalizes what is left. Without a cut
  // rows are normalized as `simtune encode --normalize` does it: once.
  RowFormat format;
  if (request.dimensions > 0 && request.dimensions < dim) {
    format = {request.dimensions, request.normalize};
  } else {
    format.normalize = request.normalize && !encoder_.files().normalize;
  }
  try {
    out.rows = batcher_.embed(ids, p.length, format);
  } catch (const Error& e) {
    throw ApiError(500, "Backend", e.what());
  }
  return out;
}

std::vector<Tokenized> Embedder::tokenize(const std::vector<std::string>& texts,
                                          const std::string& prompt_name) const {
  if (texts.size() > max_client_batch_size_) {
    throw ApiError(413, "Validation",
                   "batch size " + std::to_string(texts.size()) + " > maximum allowed batch size " +
                       std::to_string(max_client_batch_size_));
  }
  const Prompt p = prompt(prompt_name);
  std::vector<Tokenized> out;
  for (const std::string& text : texts) {
    try {
      Tokenized t{p.text + text, {}};
      t.encoding =
          encoder_.tokenizer().encode_with_offsets(t.text, std::numeric_limits<std::size_t>::max());
      out.push_back(std::move(t));
    } catch (const Error& e) {
      throw ApiError(422, "Tokenizer", e.what());
    }
  }
  return out;
}

}  // namespace simtune::serve

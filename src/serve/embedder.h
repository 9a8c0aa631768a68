// What a request asks of the model, between the JSON and the batcher: put the prompt in front
// and tokenize with TEI's truncation rules (on the calling HTTP thread), wait for the batcher's
// rows, then cut to the requested dimensions and normalize as TEI does.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "serve/api.h"
#include "serve/batcher.h"
#include "simtune/text/tokenizer.h"

namespace simtune::serve {

// One /tokenize input: what was tokenized (the prompt and the text) and its tokens, offsets
// into that string.
struct Tokenized {
  std::string text;
  Encoding encoding;
};

struct Embedded {
  Matrix rows;
  std::size_t tokens = 0;  // ids in all inputs, [CLS] and [SEP] included
};

class Embedder {
 public:
  Embedder(const Encoder& encoder, Batcher& batcher, bool auto_truncate,
           std::size_t max_client_batch_size);

  // Throws ApiError: 413 past the client batch size, 422 for empty or invalid text, ids outside
  // the vocabulary, too many tokens without truncation, or dimensions past the model's.
  Embedded embed(const EmbedRequest& request) const;

  // Each text behind the prompt, tokenized without truncation.
  std::vector<Tokenized> tokenize(const std::vector<std::string>& texts,
                                  const std::string& prompt_name) const;

 private:
  // A prompt as sentence-transformers prepends it, and its length as pooling counts it: the
  // prompt tokenized alone, [CLS] included, [SEP] not.
  struct Prompt {
    std::string text;
    std::size_t length = 0;
  };
  // The prompt named (or the model's default for ""); 422 for a name the model lacks.
  Prompt prompt(const std::string& name) const;
  TokenIds token_ids(const Input& input, bool truncate, bool left, const Prompt& prompt) const;

  const Encoder& encoder_;
  Batcher& batcher_;
  const bool auto_truncate_;
  const std::size_t max_client_batch_size_;
};

}  // namespace simtune::serve

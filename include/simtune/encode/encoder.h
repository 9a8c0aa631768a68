// The inference facade: load a sentence-transformers model directory, turn texts into
// embeddings. The CLI sees only this and the Trainer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "simtune/core/matrix.h"
#include "simtune/io/model_files.h"
#include "simtune/text/tokenizer.h"

namespace simtune {

struct EncodeOptions {
  std::size_t batch_size = 32;     // sentences per forward pass
  std::size_t max_seq_length = 0;  // 0: the model's (sentence_bert_config.json)
  bool normalize = false;          // L2-normalise (also done when the model has Normalize)
  // > 0: keep each embedding's first `dimensions` values (normalised after the cut when
  // `normalize`), as sentence-transformers' truncate_dim; 0 or more than the model's: all.
  std::size_t dimensions = 0;
  // Text prepended to every input, as sentence-transformers' encode(prompt=...); it overrides
  // prompt_name. Unset with prompt_name empty: the model's default_prompt_name, if any.
  std::optional<std::string> prompt;
  std::string prompt_name;  // a key of the model's prompts (config_sentence_transformers.json)
  // Called after each batch with (sentences done, total); may be empty.
  std::function<void(std::size_t, std::size_t)> progress;
};

class Encoder {
 public:
  // Loads model files, tokenizer and weights (memory-mapped, converted to float32).
  static Encoder load(const std::filesystem::path& model_dir);

  ~Encoder();
  Encoder(Encoder&&) noexcept;
  Encoder& operator=(Encoder&&) noexcept;

  // One embedding per text, in input order. Sentences are grouped by token length so no
  // padding is computed; the result does not depend on batch size or grouping.
  // Throws Error("text N: ...") for invalid UTF-8.
  Matrix encode(const std::vector<std::string>& texts, const EncodeOptions& options = {}) const;
  // The same for texts the caller tokenized with tokenizer() (the server tokenizes on its HTTP
  // threads and batches here): each [CLS] ... [SEP], at most max_seq_length() ids. Each starts
  // with the same prompt_length ids of a prompt the caller prepended ([CLS] included, as
  // encode_texts counts them; 0 for none), which pooling leaves out where the model's Pooling
  // says include_prompt false; the options' prompt is not applied.
  Matrix encode_token_ids(const std::vector<std::vector<std::int32_t>>& ids,
                          std::size_t prompt_length, const EncodeOptions& options = {}) const;

  std::size_t dimension() const;
  std::size_t max_seq_length() const;
  // Truncation length for later encode calls and save; throws Error outside
  // 1..max_position_embeddings. Waits for a running encode call.
  void set_max_seq_length(std::size_t tokens);
  // Writes the model as a sentence-transformers directory (write_model_directory), with the
  // current max_seq_length; each file atomically.
  void save(const std::filesystem::path& out) const;
  const Tokenizer& tokenizer() const;
  const ModelFiles& files() const;

 private:
  struct Impl;
  explicit Encoder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace simtune

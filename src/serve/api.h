// The JSON of TEI's and OpenAI's embedding routes: request bodies parsed and checked into plain
// structs, answers written out. Bad input throws ApiError with the status and error_type TEI
// answers it with; nothing here touches the model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "simtune/core/matrix.h"

namespace simtune::serve {

class ApiError : public std::runtime_error {
 public:
  // type: TEI's error_type (Validation, Overloaded, Unhealthy, Backend, Empty, Tokenizer...).
  ApiError(int status, std::string type, const std::string& message)
      : std::runtime_error(message), status(status), type(std::move(type)) {}
  int status;
  std::string type;
};

// One text to embed: a string, or token ids a client tokenized (OpenAI's [int] input).
struct Input {
  std::string text;
  std::optional<std::vector<std::int32_t>> ids;
};

struct EmbedRequest {
  std::vector<Input> inputs;
  bool normalize = true;
  std::optional<bool> truncate;  // absent: the server's --auto-truncate
  bool truncate_left = false;
  std::string prompt_name;     // empty: the model's default prompt, if it has one
  std::size_t dimensions = 0;  // 0: the model's dimension
  bool base64 = false;         // OpenAI's encoding_format
  bool single = false;         // "inputs" was one string, not a list (answered the same way)
};

struct TokenizeRequest {
  std::vector<std::string> texts;
  bool add_special_tokens = true;
  std::string prompt_name;  // as EmbedRequest's
};

// The body as JSON; 400 when it is not (invalid UTF-8 inside strings included).
nlohmann::json parse_body(const std::string& body);

// POST /embed: {"inputs": str | [str], "normalize", "truncate", "truncation_direction",
// "prompt_name", "dimensions"}.
EmbedRequest parse_embed(const nlohmann::json& body);
// POST /v1/embeddings: {"input": str | [str] | [int] | [[int]], "model", "encoding_format",
// "dimensions", "user"}. Embeddings come normalized, as TEI's OpenAI route gives them.
EmbedRequest parse_openai_embeddings(const nlohmann::json& body);
// POST /similarity: {"inputs": {"source_sentence": str, "sentences": [str]}, "truncate",
// "truncation_direction", "prompt_name"}. inputs: the source sentence, then the sentences.
EmbedRequest parse_similarity(const nlohmann::json& body);
// POST /tokenize: {"inputs": str | [str], "add_special_tokens", "prompt_name"}.
TokenizeRequest parse_tokenize(const nlohmann::json& body);

// [[f, ...], ...]: every float written in its shortest form that reads back to the same bits.
std::string embeddings_json(const Matrix& m);
// OpenAI's {"object": "list", "data": [...], "model", "usage"}; base64 holds the little-endian
// float32 bytes of each row.
std::string openai_embeddings_json(const Matrix& m, bool base64, const std::string& model,
                                   std::size_t prompt_tokens);
// [f, ...] in the same shortest form.
std::string floats_json(const std::vector<float>& values);

// TEI's error body {"error", "error_type"}, and OpenAI's {"message", "code", "type"} for /v1.
std::string error_json(const ApiError& e, bool openai);

}  // namespace simtune::serve

// simtune serve: an HTTP embedding server speaking Text Embeddings Inference's routes (/embed,
// /similarity, /tokenize, /info, /health, /metrics) and OpenAI's /v1/embeddings, with dynamic
// batching over one Encoder. Option names and defaults are TEI's.
#pragma once

#include <cstddef>
#include <string>

#include "simtune/core/option_range.h"

namespace simtune {

struct ServeOptions {
  std::string model;  // directory or hub id
  std::string host = "127.0.0.1";
  int port = 8080;                            // 0: any free port (the ready line names it)
  std::size_t max_batch_tokens = 16384;       // tokens in one forward pass
  std::size_t max_batch_requests = 0;         // texts in one forward pass; 0: no limit
  std::size_t max_concurrent_requests = 512;  // more in flight are answered 429 at once
  std::size_t max_client_batch_size = 32;     // texts in one request
  std::size_t payload_limit = 2'000'000;      // bytes of one request body
  bool auto_truncate = false;                 // truncate long inputs unless a request says not
  double request_timeout = 10;                // seconds to receive a request's headers and body
  std::string api_key;                        // non-empty: every route needs Bearer api_key
};

// Every option's range; throws OptionError naming the member (max_batch_tokens). run_server
// checks first; the CLI calls it to answer with a usage error.
void validate(const ServeOptions& options);

// Loads the model, logs one line on stderr when it listens, serves until SIGTERM or SIGINT,
// then stops accepting, finishes every request in flight and returns. Throws Error when the
// model does not load, the options are inconsistent or the address cannot be bound.
void run_server(const ServeOptions& options);

}  // namespace simtune

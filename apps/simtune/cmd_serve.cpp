// simtune serve: the HTTP embedding server (TEI's and OpenAI's routes), options named as TEI's.
#include "cli.h"
#include "simtune/serve/server.h"

namespace simtune::cli {

void add_serve(CLI::App& app) {
  struct Args {
    ServeOptions options;
    int threads = 0;
  };
  auto args = std::make_shared<Args>();
  ServeOptions& o = args->options;
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "HTTP embedding server: TEI's /embed, /similarity, /tokenize, /info, /health, "
      "/metrics and OpenAI's /v1/embeddings");
  cmd->add_option("--model", o.model, "Model directory or hub id")->required();
  cmd->add_option("--host", o.host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", o.port, "Port (0: any free one, named in the ready line)")
      ->capture_default_str();
  cmd->add_option("--max-batch-tokens", o.max_batch_tokens, "Tokens in one forward pass")
      ->capture_default_str()
      ->check(unsigned_integer());
  cmd->add_option("--max-batch-requests", o.max_batch_requests,
                  "Texts in one forward pass (default: only the token budget)")
      ->check(unsigned_integer());
  cmd->add_option("--max-concurrent-requests", o.max_concurrent_requests,
                  "Requests served at once; more are answered 429")
      ->capture_default_str()
      ->check(unsigned_integer());
  cmd->add_option("--max-client-batch-size", o.max_client_batch_size, "Texts in one request")
      ->capture_default_str()
      ->check(unsigned_integer());
  cmd->add_option("--payload-limit", o.payload_limit, "Bytes in one request body")
      ->capture_default_str()
      ->check(unsigned_integer());
  cmd->add_flag(
      "--auto-truncate", o.auto_truncate,
      "Truncate inputs past the model's max length unless a request says truncate: false");
  cmd->add_option("--request-timeout", o.request_timeout,
                  "Seconds a client has to send a request's headers and body (slower ones are "
                  "disconnected)")
      ->capture_default_str();
  cmd->add_option("--api-key", o.api_key, "Require `Authorization: Bearer KEY` on every route");
  add_threads_option(cmd, args->threads);
  cmd->callback([args] {
    check_options(args->options);
    set_num_threads(args->threads);
    run_server(args->options);
  });
}

}  // namespace simtune::cli

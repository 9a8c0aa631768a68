#include "simtune/serve/server.h"

#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <thread>

#include "serve/api.h"
#include "serve/batcher.h"
#include "serve/embedder.h"
#include "serve/http.h"
#include "serve/metrics.h"
#include "simtune/core/cpu.h"
#include "simtune/core/error.h"
#include "simtune/core/option_range.h"

namespace simtune {
namespace {

using nlohmann::json;
using serve::ApiError;

// HTTP threads beyond --max-concurrent-requests: they answer 429s, /health and /metrics while
// every permit is taken. httplib gives each connection one thread for its keep-alive life.
constexpr std::size_t kSpareHttpThreads = 16;
// Threads that answer the connections arriving while every HTTP thread is busy: 429 for the
// routes that compute, then close. Each holds a connection at most --request-timeout.
constexpr std::size_t kRefusingHttpThreads = 16;

const char* pooling_name(const PoolingConfig& p) {
  if (p.cls_token) return "cls";
  if (p.max_tokens) return "max";
  if (p.mean_sqrt_len_tokens) return "mean_sqrt_len_tokens";
  if (p.weightedmean_tokens) return "weightedmean";
  if (p.lasttoken) return "lasttoken";
  return "mean";
}

// Cosine of row 0 with each later row, in double, as torch's cos_sim (norms at least 1e-12).
std::vector<float> cosine_to_first(const Matrix& m) {
  auto dot = [&](std::size_t a, std::size_t b) {
    double s = 0;
    for (std::size_t i = 0; i < m.cols; i++) s += static_cast<double>(m.row(a)[i]) * m.row(b)[i];
    return s;
  };
  const double n0 = std::max(std::sqrt(dot(0, 0)), 1e-12);
  std::vector<float> out;
  for (std::size_t r = 1; r < m.rows; r++) {
    out.push_back(static_cast<float>(dot(0, r) / (n0 * std::max(std::sqrt(dot(r, r)), 1e-12))));
  }
  return out;
}

// A request's claim on one of --max-concurrent-requests slots, given back when it ends.
class Permit {
 public:
  Permit(std::atomic<std::size_t>& in_flight, std::size_t limit) : in_flight_(in_flight) {
    held_ = in_flight_.fetch_add(1) < limit;
    if (!held_) in_flight_.fetch_sub(1);
  }
  ~Permit() {
    if (held_) in_flight_.fetch_sub(1);
  }
  Permit(const Permit&) = delete;
  Permit& operator=(const Permit&) = delete;
  bool held() const { return held_; }

 private:
  std::atomic<std::size_t>& in_flight_;
  bool held_;
};

class Server {
 public:
  explicit Server(const ServeOptions& o)
      : options_(o),
        encoder_(Encoder::load(o.model)),
        batcher_(encoder_, o.max_batch_tokens, o.max_batch_requests, metrics_),
        embedder_(encoder_, batcher_, o.auto_truncate, o.max_client_batch_size),
        http_(std::chrono::milliseconds(static_cast<long long>(o.request_timeout * 1000))) {
    http_.new_task_queue = [n = o.max_concurrent_requests + kSpareHttpThreads] {
      return new serve::ConnectionPool(n, kRefusingHttpThreads);
    };
    http_.set_payload_max_length(o.payload_limit);
    // A client that sends nothing for this long is dropped, so it holds its thread no longer
    // (and one that sends slowly, at the request deadline).
    http_.set_read_timeout(5, 0);
    http_.set_write_timeout(5, 0);
    http_.set_tcp_nodelay(true);
    // httplib closes a keep-alive connection after 5 requests by default; a reconnect costs
    // more than a small request's forward pass.
    http_.set_keep_alive_max_count(1000);
    routes();
  }

  // Binds, then serves on a thread of its own while this thread runs the batches, until a
  // signal; returns when every accepted request is answered.
  void run() {
    const int port = options_.port == 0
                         ? http_.bind_to_any_port(options_.host)
                         : (http_.bind_to_port(options_.host, options_.port) ? options_.port : -1);
    if (port < 0) {
      throw Error("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                  " (address in use or not available)");
    }
    http_.set_backlog(SOMAXCONN);
    std::thread listener([this] {
      http_.listen_after_bind();
      listener_done_ = true;
      batcher_.stop();
    });
    std::thread signals([this] { wait_for_signal(); });
    std::fprintf(stderr,
                 "simtune serve: listening on http://%s:%d (model %s, dimension %zu, kernels %s)\n",
                 options_.host.c_str(), port, options_.model.c_str(), encoder_.dimension(),
                 isa_name(active_isa()));
    std::fflush(stderr);
    batcher_.run();
    listener.join();
    if (!signalled_.exchange(true)) pthread_kill(signals.native_handle(), SIGTERM);
    signals.join();
    std::fprintf(stderr, "simtune serve: stopped\n");
  }

 private:
  void wait_for_signal() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0;
    sigwait(&set, &sig);
    if (signalled_.exchange(true)) return;  // the server stopped on its own
    std::fprintf(stderr, "simtune serve: %s, finishing %zu requests in flight\n",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", in_flight_.load());
    draining_ = true;
    // httplib's stop() does nothing before its accept loop runs: a signal right after the
    // ready line waits for that.
    while (!http_.is_running() && !listener_done_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    http_.stop();
  }

  using Body = std::function<void(const httplib::Request&, httplib::Response&)>;

  // Wraps a route: the API key (401), 503 while draining, a permit (429 past the limit),
  // errors as JSON, metrics.
  httplib::Server::Handler handle(std::string name, bool openai, bool limited, Body body) {
    return
        [this, name, openai, limited, body](const httplib::Request& req, httplib::Response& res) {
          const auto start = std::chrono::steady_clock::now();
          try {
            // Checked here, not in httplib's pre-routing hook: that one answers before the body is
            // read, and the unread body would then be parsed as the connection's next request.
            if (!options_.api_key.empty() &&
                req.get_header_value("Authorization") != "Bearer " + options_.api_key) {
              throw ApiError(401, "Unauthorized", "missing or wrong `Authorization: Bearer` key");
            }
            if (draining_) throw ApiError(503, "Unhealthy", "the server is shutting down");
            Permit permit(in_flight_, limited ? options_.max_concurrent_requests : SIZE_MAX);
            if (!permit.held() || (limited && serve::ConnectionPool::refusing())) {
              throw ApiError(429, "Overloaded", "Model is overloaded");
            }
            body(req, res);
            res.status = 200;
          } catch (const ApiError& e) {
            res.status = e.status;
            res.set_content(serve::error_json(e, openai), "application/json");
          }
          metrics_.request(
              name, res.status,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        };
  }

  void routes() {
    using httplib::Request;
    using httplib::Response;
    http_.Post("/embed", handle("/embed", false, true, [this](const Request& q, Response& r) {
                 const serve::Embedded e =
                     embedder_.embed(serve::parse_embed(serve::parse_body(q.body)));
                 r.set_content(serve::embeddings_json(e.rows), "application/json");
               }));
    http_.Post(
        "/v1/embeddings",
        handle("/v1/embeddings", true, true, [this](const Request& q, Response& r) {
          const serve::EmbedRequest req = serve::parse_openai_embeddings(serve::parse_body(q.body));
          const serve::Embedded e = embedder_.embed(req);
          r.set_content(serve::openai_embeddings_json(e.rows, req.base64, options_.model, e.tokens),
                        "application/json");
        }));
    http_.Post("/similarity",
               handle("/similarity", false, true, [this](const Request& q, Response& r) {
                 serve::EmbedRequest req = serve::parse_similarity(serve::parse_body(q.body));
                 req.normalize = false;
                 const serve::Embedded e = embedder_.embed(req);
                 r.set_content(serve::floats_json(cosine_to_first(e.rows)), "application/json");
               }));
    http_.Post("/tokenize", handle("/tokenize", false, true, [this](const Request& q, Response& r) {
                 const serve::TokenizeRequest req =
                     serve::parse_tokenize(serve::parse_body(q.body));
                 const Tokenizer& tok = encoder_.tokenizer();
                 json out = json::array();
                 for (const serve::Tokenized& t : embedder_.tokenize(req.texts, req.prompt_name)) {
                   // As TEI answers: [CLS] and [SEP] by name without offsets, the other tokens as
                   // the bytes of the input they came from (a "##" piece without its prefix).
                   const std::vector<std::int32_t>& ids = t.encoding.ids;
                   const std::size_t skip = req.add_special_tokens ? 0 : 1;
                   json tokens = json::array();
                   for (std::size_t k = skip; k + skip < ids.size(); ++k) {
                     const bool special = k == 0 || k + 1 == ids.size();
                     if (special) {
                       tokens.push_back({{"id", ids[k]},
                                         {"text", tok.id_to_token(ids[k])},
                                         {"special", true},
                                         {"start", nullptr},
                                         {"stop", nullptr}});
                       continue;
                     }
                     const TokenOffsets& o = t.encoding.offsets[k];
                     tokens.push_back({{"id", ids[k]},
                                       {"text", t.text.substr(o.begin, o.end - o.begin)},
                                       {"special", false},
                                       {"start", o.begin},
                                       {"stop", o.end}});
                   }
                   out.push_back(std::move(tokens));
                 }
                 r.set_content(out.dump(), "application/json");
               }));
    http_.Get("/info", handle("/info", false, false, [this](const Request&, Response& r) {
                const ServeOptions& o = options_;
                const json info = {
                    {"model_id", o.model},
                    {"model_sha", nullptr},
                    {"model_dtype", "float32"},
                    {"model_type",
                     {{"embedding", {{"pooling", pooling_name(encoder_.files().pooling)}}}}},
                    {"dimension", encoder_.dimension()},
                    {"max_concurrent_requests", o.max_concurrent_requests},
                    {"max_input_length", encoder_.max_seq_length()},
                    {"max_batch_tokens", o.max_batch_tokens},
                    {"max_batch_requests",
                     o.max_batch_requests > 0 ? json(o.max_batch_requests) : json(nullptr)},
                    {"max_client_batch_size", o.max_client_batch_size},
                    {"auto_truncate", o.auto_truncate},
                    {"payload_limit", o.payload_limit},
                    {"version", "0.1.0"},
                    {"kernels", isa_name(active_isa())},
                    {"cpu", cpu_description()}};
                r.set_content(info.dump(), "application/json");
              }));
    http_.Get("/health", handle("/health", false, false, [](const Request&, Response& r) {
                r.set_content("", "text/plain");
              }));
    http_.Get("/metrics", handle("/metrics", false, false, [this](const Request&, Response& r) {
                r.set_content(metrics_.prometheus(in_flight_.load()), "text/plain; version=0.0.4");
              }));
    // What httplib answers by itself (413 past the payload limit, 404, 400 for a broken
    // request) gets the same JSON error body.
    http_.set_error_handler(
        httplib::Server::HandlerWithResponse([](const Request& req, Response& res) {
          if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
          const char* what = res.status == 413   ? "payload too large"
                             : res.status == 404 ? "no such route"
                                                 : "bad request";
          res.set_content(serve::error_json(ApiError(res.status, "Validation", what),
                                            req.path.rfind("/v1/", 0) == 0),
                          "application/json");
          return httplib::Server::HandlerResponse::Handled;
        }));
    http_.set_exception_handler([](const Request&, Response& res, std::exception_ptr ep) {
      std::string what = "internal error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      res.status = 500;
      res.set_content(serve::error_json(ApiError(500, "Backend", what), false), "application/json");
    });
  }

  const ServeOptions options_;
  serve::Metrics metrics_;
  Encoder encoder_;
  serve::Batcher batcher_;
  serve::Embedder embedder_;
  serve::HttpServer http_;
  std::atomic<std::size_t> in_flight_{0};
  std::atomic<bool> draining_{false}, signalled_{false}, listener_done_{false};
};

}  // namespace

void validate(const ServeOptions& o) {
  check_range("port", o.port, 0, 65535);
  // A batch's activations grow with its tokens; this many already takes gigabytes.
  check_range("max_batch_tokens", static_cast<double>(o.max_batch_tokens), 1, 1 << 24);
  check_range("max_batch_requests", static_cast<double>(o.max_batch_requests), 0, 1 << 20);
  // One HTTP thread waits for each request served at once.
  check_range("max_concurrent_requests", static_cast<double>(o.max_concurrent_requests), 1, 4096);
  check_range("max_client_batch_size", static_cast<double>(o.max_client_batch_size), 1, 1 << 20);
  check_range("payload_limit", static_cast<double>(o.payload_limit), 1, 4294967296.0);
  check_range("request_timeout", o.request_timeout, 0.001, 3600);
}

void run_server(const ServeOptions& options) {
  validate(options);
  // Signals go to the one thread that waits for them: blocked here, before any thread starts,
  // every thread (OpenMP's and httplib's too) inherits the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  Server server(options);
  server.run();
}

}  // namespace simtune

// simtune search / mine-paraphrases: sentence-transformers' util.semantic_search and
// util.paraphrase_mining over a model's embeddings of input lines.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "simtune/core/error.h"
#include "simtune/eval/search.h"

namespace simtune::cli {
namespace {

struct EncodeArgs {
  std::string model;
  EncodeOptions options;
  int threads = 0;
  bool replace_invalid = false, quiet = false;
};

void add_encode_options(CLI::App* cmd, EncodeArgs& args) {
  cmd->add_option("--model", args.model, "Model directory")->required();
  cmd->add_option("--batch-size", args.options.batch_size, "Sentences per forward pass")
      ->capture_default_str()
      ->check(bounded(1, kMaxBatch));
  add_threads_option(cmd, args.threads);
  cmd->add_flag("--replace-invalid-utf8", args.replace_invalid,
                "Replace invalid UTF-8 with U+FFFD instead of stopping");
  cmd->add_flag("-q,--quiet", args.quiet, "No progress bar");
  add_prompt_options(cmd, args.options);
}

Matrix encode_lines(const Encoder& encoder, const std::vector<std::string>& lines,
                    const EncodeArgs& args, const std::string& label) {
  Progress progress(label, "sentences", args.quiet);
  EncodeOptions options = args.options;
  options.progress = [&](std::size_t done, std::size_t total) { progress.update(done, total); };
  Matrix m = encoder.encode(lines, options);
  progress.finish();
  return m;
}

void print_line(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fputc('\n', stdout);
}

}  // namespace

void add_search(CLI::App& app) {
  struct Args : EncodeArgs {
    std::string corpus, query_file;
    std::vector<std::string> queries;
    std::size_t top_k = 10;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "search",
      "The corpus lines most similar to each query (the model's similarity function), as "
      "util.semantic_search; --prompt/--prompt-name apply to the queries");
  add_encode_options(cmd, *args);
  cmd->add_option("--corpus", args->corpus, "Text file, one corpus entry per line")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--query", args->queries, "A query (repeatable)");
  cmd->add_option("--query-file", args->query_file,
                  "Queries, one per line (- for stdin), after any --query");
  cmd->add_option("--top-k", args->top_k, "Hits per query")
      ->capture_default_str()
      ->check(bounded(1, kMaxCount));
  cmd->add_flag("--json", args->json,
                "JSONL: one object per query {query_id, query, hits: [{corpus_id, score, text}]}");
  cmd->callback([args] {
    set_num_threads(args->threads);
    std::vector<std::string> queries = args->queries;
    if (!args->query_file.empty()) {
      for (std::string& q : read_lines(args->query_file, args->replace_invalid)) {
        queries.push_back(std::move(q));
      }
    }
    if (queries.empty()) throw Error("no queries: give --query TEXT or --query-file FILE");
    const std::vector<std::string> corpus = read_lines(args->corpus, args->replace_invalid);
    if (corpus.empty()) throw Error(args->corpus + ": the corpus is empty");
    const Encoder encoder = Encoder::load(args->model);
    // The corpus is embedded as a plain encode() would (the model's default prompt, if any).
    EncodeArgs corpus_args = *args;
    corpus_args.options.prompt.reset();
    corpus_args.options.prompt_name.clear();
    const Matrix corpus_emb = encode_lines(encoder, corpus, corpus_args, "corpus");
    const Matrix query_emb = encode_lines(encoder, queries, *args, "queries");
    const auto results = semantic_search(query_emb, corpus_emb, args->top_k,
                                         similarity_function(encoder.files().similarity_fn_name));
    for (std::size_t q = 0; q < results.size(); q++) {
      if (args->json) {
        nlohmann::json hits = nlohmann::json::array();
        for (const SearchHit& h : results[q]) {
          hits.push_back(
              {{"corpus_id", h.corpus_id}, {"score", h.score}, {"text", corpus[h.corpus_id]}});
        }
        const nlohmann::json j = {{"query_id", q}, {"query", queries[q]}, {"hits", hits}};
        print_line(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        continue;
      }
      if (q) std::fputc('\n', stdout);
      print_line("query: " + queries[q]);
      for (const SearchHit& h : results[q]) {
        std::printf("%.4f\t", h.score);
        print_line(corpus[h.corpus_id]);
      }
    }
  });
}

void add_mine_paraphrases(CLI::App& app) {
  struct Args : EncodeArgs {
    std::string input;
    ParaphraseOptions mining;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "mine-paraphrases",
      "The most similar (cosine) pairs of input lines, best first, as util.paraphrase_mining");
  add_encode_options(cmd, *args);
  cmd->add_option("--input", args->input, "Text file, one sentence per line (- for stdin)")
      ->required();
  cmd->add_option("--top-k", args->mining.top_k,
                  "Other sentences considered per sentence (itself not counted)")
      ->capture_default_str()
      ->check(bounded(1, kMaxCount));
  cmd->add_option("--max-pairs", args->mining.max_pairs,
                  "Cap on directed candidates (i,j)/(j,i) before deduplication, as "
                  "sentence-transformers applies it: at most max-pairs - 1 survive")
      ->capture_default_str()
      ->check(bounded(1, kMaxCount));
  cmd->add_option("--query-chunk-size", args->mining.query_chunk_size)
      ->capture_default_str()
      ->check(bounded(1, kMaxCount));
  cmd->add_option("--corpus-chunk-size", args->mining.corpus_chunk_size,
                  "Each sentence's top-k is taken per chunk of this many sentences")
      ->capture_default_str()
      ->check(bounded(1, kMaxCount));
  cmd->add_flag("--json", args->json, "JSONL: one object per pair {score, i, j, text_i, text_j}");
  cmd->callback([args] {
    set_num_threads(args->threads);
    const std::vector<std::string> lines = read_lines(args->input, args->replace_invalid);
    const Encoder encoder = Encoder::load(args->model);
    const Matrix emb = encode_lines(encoder, lines, *args, "encode");
    for (const ParaphrasePair& p : paraphrase_mining(emb, args->mining)) {
      if (args->json) {
        const nlohmann::json j = {{"score", p.score},
                                  {"i", p.i},
                                  {"j", p.j},
                                  {"text_i", lines[p.i]},
                                  {"text_j", lines[p.j]}};
        print_line(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        continue;
      }
      std::printf("%.4f\t", p.score);
      print_line(lines[p.i] + "\t" + lines[p.j]);
    }
  });
}

}  // namespace simtune::cli

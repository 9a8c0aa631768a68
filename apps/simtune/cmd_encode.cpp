// simtune encode / similarity: embeddings of input lines, the similarity of two texts (the
// model's similarity function). Under mpirun, encode splits the lines over the ranks.
#include <cstdio>

#include "cli.h"
#include "simtune/core/error.h"
#include "simtune/dist/group.h"
#include "simtune/eval/search.h"

namespace simtune::cli {

void add_encode(CLI::App& app) {
  struct Args {
    std::string model, input = "-", output;
    EncodeOptions options;
    int threads = 0;
    bool replace_invalid = false, quiet = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd =
      app.add_subcommand("encode", "Embed each input line (one row per line, in order)");
  cmd->add_option("--model", args->model, "Model directory")->required();
  cmd->add_option("--input", args->input, "Text file, one sentence per line (- for stdin)")
      ->capture_default_str();
  cmd->add_option("--output", args->output,
                  "emb.npy (float32), emb.jsonl, or - for JSONL on stdout")
      ->required();
  cmd->add_option("--batch-size", args->options.batch_size, "Sentences per forward pass")
      ->capture_default_str()
      ->check(bounded(1, kMaxBatch));
  cmd->add_option("--max-seq-length", args->options.max_seq_length,
                  "Truncate to this many tokens (default: the model's max_seq_length)")
      ->check(bounded(1, kMaxSeqLength));
  cmd->add_flag("--normalize", args->options.normalize, "L2-normalise the embeddings");
  cmd->add_option("--dimensions", args->options.dimensions,
                  "Keep the first N values of each embedding (sentence-transformers' "
                  "truncate_dim; --normalize then normalises the cut vector)")
      ->check(bounded(1, kMaxCount));
  add_prompt_options(cmd, args->options);
  add_threads_option(cmd, args->threads);
  cmd->add_flag("--replace-invalid-utf8", args->replace_invalid,
                "Replace invalid UTF-8 with U+FFFD instead of stopping");
  cmd->add_flag("-q,--quiet", args->quiet, "No progress bar");
  cmd->callback([args] {
    set_num_threads(args->threads);
    dist::Group& group = dist::Group::world();
    std::vector<std::string> lines = read_lines(args->input, args->replace_invalid);
    const std::size_t total = lines.size();
    // Each rank embeds a contiguous share of the lines; a sentence embeds to the same bits
    // whatever else is in its batch, so rank 0's concatenation is one process's output.
    const dist::Share share = group.share(total);
    lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(share.end), lines.end());
    lines.erase(lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(share.begin));
    Encoder encoder = Encoder::load(args->model);
    Progress progress("encode", "sentences", args->quiet || !group.root());
    EncodeOptions options = args->options;
    options.progress = [&](std::size_t done, std::size_t) {
      progress.update(done * static_cast<std::size_t>(group.size()), total);
    };
    Matrix m = encoder.encode(lines, options);
    progress.finish();
    if (group.size() > 1) {
      std::vector<float> mine = std::move(m.data);
      group.gather_to_root(mine, m.data);
      m.rows = total;
    }
    if (group.root()) write_embeddings(args->output, m);
  });
}

void add_similarity(CLI::App& app) {
  struct Args {
    std::string model, a, b;
    EncodeOptions options;
    int threads = 0;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "similarity",
      "Print the similarity of two texts (the model's similarity_fn_name, cosine by default)");
  cmd->add_option("--model", args->model, "Model directory")->required();
  cmd->add_option("text_a", args->a, "First text")->required();
  cmd->add_option("text_b", args->b, "Second text")->required();
  add_prompt_options(cmd, args->options);
  add_threads_option(cmd, args->threads);
  cmd->callback([args] {
    set_num_threads(args->threads);
    Encoder encoder = Encoder::load(args->model);
    const Matrix m = encoder.encode({args->a, args->b}, args->options);
    const SimilarityFunction fn = similarity_function(encoder.files().similarity_fn_name);
    std::printf("%.6f\n", similarity_score(fn, m.row(0), m.row(1), m.cols));
  });
}

}  // namespace simtune::cli

// simtune tokenize: token ids and tokens of each input line, as JSONL; with --offsets, also the
// bytes of the line each token came from.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "simtune/core/error.h"
#include "simtune/model/loader.h"

namespace simtune::cli {

void add_tokenize(CLI::App& app) {
  struct Args {
    std::string model, input = "-";
    std::size_t max_seq_length = 0;
    bool replace_invalid = false;
    bool offsets = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "tokenize", "Print token ids and tokens of each input line as JSONL {\"ids\",\"tokens\"}");
  cmd->add_option("--model", args->model, "Model directory")->required();
  cmd->add_option("--input", args->input, "Text file, one sentence per line (- for stdin)")
      ->capture_default_str();
  cmd->add_option("--max-seq-length", args->max_seq_length,
                  "Truncate to this many tokens including [CLS]/[SEP] (default: the model's)")
      ->check(bounded(1, kMaxSeqLength));
  cmd->add_flag("--replace-invalid-utf8", args->replace_invalid,
                "Replace invalid UTF-8 with U+FFFD instead of stopping");
  cmd->add_flag("--offsets", args->offsets,
                "Also print \"offsets\": [[begin, end], ...], the UTF-8 byte range of the line "
                "each token came from ([0, 0] for [CLS] and [SEP])");
  cmd->callback([args] {
    LoadOptions load;
    load.with_weights = false;
    const LoadedModel model = load_model(args->model, load);
    const ModelFiles& files = model.files;
    const Tokenizer& tokenizer = model.tokenizer;
    const auto positions = static_cast<std::size_t>(files.bert.max_position_embeddings);
    if (args->max_seq_length > positions) {
      throw Error("--max-seq-length " + std::to_string(args->max_seq_length) +
                  " exceeds the model's max_position_embeddings " + std::to_string(positions));
    }
    const std::size_t max_len = args->max_seq_length ? args->max_seq_length : files.max_seq_length;
    for (const std::string& line : read_lines(args->input, args->replace_invalid)) {
      Encoding e;
      if (args->offsets) {
        e = tokenizer.encode_with_offsets(line, max_len);
      } else {
        e.ids = tokenizer.encode(line, max_len);
      }
      nlohmann::json tokens = nlohmann::json::array();
      for (std::int32_t id : e.ids) tokens.push_back(tokenizer.id_to_token(id));
      nlohmann::json row = {{"ids", e.ids}, {"tokens", tokens}};
      if (args->offsets) {
        nlohmann::json offsets = nlohmann::json::array();
        for (const TokenOffsets& o : e.offsets) offsets.push_back({o.begin, o.end});
        row["offsets"] = std::move(offsets);
      }
      std::printf("%s\n", row.dump().c_str());
    }
  });
}

}  // namespace simtune::cli

// simtune init: a randomly initialised model directory in sentence-transformers' layout.
#include <filesystem>

#include "cli.h"
#include "simtune/core/error.h"
#include "simtune/core/file.h"
#include "simtune/io/model_files.h"
#include "simtune/model/params.h"
#include "simtune/text/tokenizer.h"

namespace simtune::cli {

void add_init(CLI::App& app) {
  struct Args {
    std::string config, out;
    std::uint64_t seed = 0;
    bool force = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "init", "Write a randomly initialised model (Hugging Face BERT init) from a config");
  cmd->add_option("--config", args->config,
                  "Directory with config.json and tokenizer files (and optionally modules.json, "
                  "sentence_bert_config.json, 1_Pooling/)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--out", args->out, "Output model directory")->required();
  cmd->add_option("--seed", args->seed, "Random seed")->capture_default_str();
  cmd->add_flag("--force", args->force, "Overwrite an existing model in --out");
  cmd->callback([args] {
    const std::filesystem::path out(args->out);
    if (!args->force && std::filesystem::exists(out / "model.safetensors")) {
      throw Error(args->out + ": already holds a model (pass --force to overwrite it)");
    }
    ModelFiles files = load_model_files(args->config);
    // A model without a usable tokenizer would be written, then refused by every command.
    Tokenizer::from_directory(files.transformer_dir);
    BertParams params = BertParams::init(files.bert, args->seed);
    save_directory_atomic(out, [&](const std::filesystem::path& staging) {
      write_model_directory(files, staging, params.tensor_refs());
    });
  });
}

}  // namespace simtune::cli

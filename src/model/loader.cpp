#include "simtune/model/loader.h"

#include "simtune/core/cpu.h"

namespace simtune {

LoadedModel load_model(const std::string& name_or_dir, const LoadOptions& options) {
  // Every user of the kernels loads a model first: settle the instruction set here, where a bad
  // SIMTUNE_ISA can still be reported as an Error, not inside a kernel that cannot throw.
  active_isa();
  ModelFiles files = load_model_files(resolve_model(name_or_dir, options.hub));
  Tokenizer tokenizer = Tokenizer::from_directory(files.transformer_dir);
  BertParams params;
  if (options.with_weights) {
    params = BertParams::load(options.weights.empty() ? files.transformer_dir : options.weights,
                              files.bert);
  }
  return {std::move(files), std::move(tokenizer), std::move(params)};
}

}  // namespace simtune

#include "simtune/model/loader.h"

#include <algorithm>

#include "simtune/core/cpu.h"
#include "simtune/core/error.h"

namespace simtune {

LoadedModel load_model(const std::string& name_or_dir, const LoadOptions& options) {
  // Every user of the kernels loads a model first: settle the instruction set here, where a bad
  // SIMTUNE_ISA can still be reported as an Error, not inside a kernel that cannot throw.
  active_isa();
  ModelFiles files = load_model_files(resolve_model(name_or_dir, options.hub));
  Tokenizer tokenizer = Tokenizer::from_directory(files.transformer_dir);
  tokenizer.set_lowercase_input(files.do_lower_case);
  BertParams params;
  if (options.with_weights && options.weights_from.empty()) params = BertParams::load(files);
  if (options.with_weights && !options.weights_from.empty()) {
    params = BertParams::load(load_model_files(options.weights_from));
    const ParamLayout expected = model_layout(files);
    const bool same = params.layout.tensors.size() == expected.tensors.size() &&
                      std::equal(expected.tensors.begin(), expected.tensors.end(),
                                 params.layout.tensors.begin(), [](const auto& a, const auto& b) {
                                   return a.name == b.name && a.shape == b.shape;
                                 });
    if (!same) {
      throw Error(options.weights_from.string() + ": its tensors differ from those of " +
                  name_or_dir + " (another model's weights)");
    }
  }
  return {std::move(files), std::move(tokenizer), std::move(params)};
}

}  // namespace simtune

// The training report's plots: hand-written SVG charts of a run's steps and evaluations, for
// the model card to link.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "simtune/train/trainer.h"

namespace simtune {

// Writes out_dir/loss.svg (each step's loss and a smoothed line), out_dir/lr.svg (learning
// rate) and, when `evals` is not empty, out_dir/eval.svg (cosine Spearman per evaluation
// name), each atomically. The smoothed loss is a debiased EMA (as TensorBoard draws it),
// left out below six steps. Non-finite values are left out of the lines; loss.svg and lr.svg
// are not written when `steps` is empty. Throws Error when a file cannot be written.
void write_training_plots(const std::filesystem::path& out_dir,
                          const std::vector<StepReport>& steps,
                          const std::vector<EvalRecord>& evals);

}  // namespace simtune

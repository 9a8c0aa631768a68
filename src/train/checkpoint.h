// Resumable checkpoints: OUTPUT/checkpoints/checkpoint-<step>/ holds the model directory (so a
// checkpoint also loads as a model), loss.safetensors (the loss's own tensors, when it has any),
// optimizer.safetensors (AdamW's moments under
// "exp_avg.<name>" / "exp_avg_sq.<name>") and trainer_state.json (step, AdamW's step count, the
// dropout RNG's state, the best dev score so far, and the settings a resume must match).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>

#include "simtune/io/model_files.h"
#include "train/train_state.h"

namespace simtune {

// Settings that fix which batches a run sees; a resume refuses a checkpoint made with others.
struct RunIdentity {
  std::size_t batch_size = 0;
  std::uint64_t seed = 0;
  bool shuffle = true;
  bool no_duplicates = false;  // --batch-sampler no_duplicates
};

// Writes checkpoint-<state.step> (complete under its final name, or not at all) and deletes all
// but the newest `keep` checkpoints; returns its directory.
std::filesystem::path save_checkpoint(const std::filesystem::path& output, const ModelFiles& files,
                                      const TrainState& state, const RunIdentity& run,
                                      double best_score, int keep);

// trainer_state.json's contents, checked: counts in range, the RNG words complete.
struct SavedState {
  RunIdentity run;
  std::int64_t step = 0, adam_steps = 0;
  std::array<std::uint64_t, 4> rng{};
  double best_score = -std::numeric_limits<double>::infinity();
};
// Throws Error naming `origin` and the field at fault.
SavedState parse_trainer_state(const std::string& text, const std::string& origin);

// Restores the moments, AdamW's step count, the RNG, the step and the loss's tensors into
// `state`, whose model parameters were loaded from dir/model.safetensors; returns the best dev
// score saved (-inf if none). Throws Error naming the file when the checkpoint is damaged or was
// made with another RunIdentity.
double load_checkpoint(const std::filesystem::path& dir, TrainState& state, const RunIdentity& run);

}  // namespace simtune

// The model card (README.md) a trained model directory carries: what sentence-transformers users
// expect to read on the hub, the training settings as a table, and the report's plots.
#pragma once

#include <filesystem>

#include <nlohmann/json.hpp>

#include "simtune/io/model_files.h"

namespace simtune {

// Writes out/README.md atomically: a sentence-transformers front matter, how to load the model
// (as `name`: `out` may be a staging directory with a temporary name), `table` (key -> value)
// under "Training", and links to whichever of the report's plots (loss.svg, lr.svg, eval.svg)
// exist in `out`.
void write_model_card(const std::filesystem::path& out, const std::string& name,
                      const ModelFiles& files, const nlohmann::json& table);

}  // namespace simtune

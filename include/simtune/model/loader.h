// The one model loader: a name (local directory or hub id) to the model's files, tokenizer and
// parameters. Encoding, training, tokenizing and the tools all load through here.
#pragma once

#include <filesystem>
#include <string>

#include "simtune/io/hub.h"
#include "simtune/io/model_files.h"
#include "simtune/model/params.h"
#include "simtune/text/tokenizer.h"

namespace simtune {

struct LoadOptions {
  bool with_weights = true;  // false: files and tokenizer only (params left empty)
  // A model directory simtune wrote (a checkpoint) whose weight files to read instead of the
  // model's own; its layout must match the model's.
  std::filesystem::path weights_from;
  HubOptions hub;
};

struct LoadedModel {
  ModelFiles files;  // configs and the module pipeline (files.modules)
  Tokenizer tokenizer;
  BertParams params;
};

// Resolves `name_or_dir` (resolve_model), reads and checks its files, builds the tokenizer and
// reads the weights. Throws Error naming the file, line or tensor at fault.
LoadedModel load_model(const std::string& name_or_dir, const LoadOptions& options = {});

}  // namespace simtune

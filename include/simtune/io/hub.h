// Models named as users name them: a local directory, or a Hugging Face hub id ("org/name",
// "org/name@revision", or "name" for sentence-transformers' own "sentence-transformers/name")
// found in, or downloaded into, huggingface_hub's cache.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace simtune {

// Empty / unset fields come from the environment, as huggingface_hub reads it.
struct HubOptions {
  std::filesystem::path
      cache_dir;                // $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub
  std::string endpoint;         // $HF_ENDPOINT, else https://huggingface.co
  std::string token;            // $HF_TOKEN, else the token file `huggingface-cli login` wrote
  std::optional<bool> offline;  // $HF_HUB_OFFLINE
  bool progress = true;         // download progress bar on stderr (only when it is a terminal)
};

// An existing directory is returned as is. A hub id resolves to its snapshot directory in the
// cache (`models--org--name/snapshots/<commit>`), downloading the sentence-transformers files
// first unless offline. Anything else is returned unchanged, for the loader to report.
// Throws Error when the hub cannot provide the model and the cache does not hold it.
std::filesystem::path resolve_model(const std::string& name_or_path,
                                    const HubOptions& options = {});

}  // namespace simtune

// The weight files of a model directory, as transformers names them (Weights::open reads them,
// the hub downloader fetches them), and the shard index's map from tensor to shard.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace simtune {

// In transformers' order of preference when a directory holds several.
inline constexpr const char* kSafetensorsFile = "model.safetensors";
inline constexpr const char* kShardIndexFile = "model.safetensors.index.json";
inline constexpr const char* kTorchBinFile = "pytorch_model.bin";

struct ShardIndex {
  std::map<std::string, std::string> weight_map;  // tensor name -> shard file name
  std::vector<std::string> shards;                // each shard once, sorted
};

// Reads and checks the index: a JSON object with a "weight_map" object of strings, each a plain
// file name in the index's directory (no path: a downloaded index must not point elsewhere).
// Throws Error naming the file.
ShardIndex read_shard_index(const std::filesystem::path& path);

}  // namespace simtune

// A model's weights, whichever of Hugging Face's formats holds them: model.safetensors, sharded
// safetensors (model.safetensors.index.json naming its shards), or PyTorch's pytorch_model.bin
// (a zip archive whose pickle is read as data, never run). Every floating tensor reads as the
// same float32 bits whatever the format.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "simtune/io/safetensors.h"

namespace simtune {

class Weights {
 public:
  // `path` is a directory (model.safetensors, else model.safetensors.index.json and its shards,
  // else pytorch_model.bin, as transformers picks them) or one .safetensors or .bin file.
  // Throws Error naming the file at fault, or the directory when it holds none of them.
  static Weights open(const std::filesystem::path& path);

  ~Weights();
  Weights(Weights&&) noexcept;
  Weights& operator=(Weights&&) noexcept;

  const TensorInfo* find(const std::string& name) const;
  // The file holding `tensor` (a shard for sharded weights), for error messages.
  const std::string& origin(const TensorInfo& tensor) const;
  // What was opened: the weight file, or the shard index.
  const std::string& origin() const;

  // Converts a floating tensor (F32, F16, BF16, F64) to float32 into out[numel]; throws Error
  // naming the tensor for other dtypes.
  void read_f32(const TensorInfo& tensor, float* out) const;

  // The tensor `name` with exactly `shape`, as float32; throws Error naming the file and the
  // tensor when it is missing, not floating, or shaped otherwise.
  std::vector<float> read_f32(const std::string& name,
                              const std::vector<std::int64_t>& shape) const;

 private:
  struct Impl;
  explicit Weights(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace simtune

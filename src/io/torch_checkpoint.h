// PyTorch's zip checkpoint, as torch.save writes it since PyTorch 1.6 (pytorch_model.bin):
// <name>/data.pkl, the pickled state dict (read by io/torch_pickle.h, never run), and one
// <name>/data/<key> entry of raw little-endian bytes per storage. Same interface as
// SafetensorsFile, so the weight reader treats both alike.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "simtune/io/safetensors.h"

namespace simtune {

class TorchCheckpoint {
 public:
  // Maps the file and reads its archive and pickle; throws Error naming the file (and tensor or
  // pickle byte) when it is not a zip archive (or is the pre-1.6 format), the pickle holds
  // anything but a state dict of tensors, a tensor is not contiguous or runs past its storage,
  // or a storage entry is missing or of the wrong size.
  static TorchCheckpoint open(const std::filesystem::path& path);
  // The same over bytes already in memory (kept alive by the caller).
  static TorchCheckpoint parse(std::span<const std::uint8_t> bytes, const std::string& origin);

  ~TorchCheckpoint();
  TorchCheckpoint(TorchCheckpoint&&) noexcept;
  TorchCheckpoint& operator=(TorchCheckpoint&&) noexcept;

  // begin/end are byte offsets into the tensor's own storage entry.
  const std::vector<TensorInfo>& tensors() const;
  const TensorInfo* find(const std::string& name) const;
  const std::string& origin() const;

  // Converts a floating tensor to float32 into out[numel]; throws Error naming the tensor for
  // other dtypes or when its storage cannot be read.
  void read_f32(const TensorInfo& tensor, float* out) const;

 private:
  struct Impl;
  explicit TorchCheckpoint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace simtune

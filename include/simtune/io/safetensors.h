// safetensors reader (memory-mapped, every header field validated) and atomic writer.
// Format: u64 little-endian header length N, N bytes of JSON header, then the data buffer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace simtune {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

const char* dtype_name(DType dtype);
std::size_t dtype_size(DType dtype);

struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<std::int64_t> shape;
  std::size_t begin = 0;  // byte offsets into the data buffer
  std::size_t end = 0;
  std::int64_t numel() const;
};

class SafetensorsFile {
 public:
  // Maps the file and validates the header; throws Error naming the file (and tensor) when
  // the header length runs past the file, the JSON is malformed, a dtype is unknown, offsets
  // fall outside the data or overlap, or a shape disagrees with the byte size.
  static SafetensorsFile open(const std::filesystem::path& path);
  // Same validation over bytes already in memory (kept alive by the caller); `origin` names
  // them in error messages.
  static SafetensorsFile parse(std::span<const std::uint8_t> bytes, const std::string& origin);

  ~SafetensorsFile();
  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;

  const std::vector<TensorInfo>& tensors() const;
  const TensorInfo* find(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const;
  const std::string& origin() const;

  // Converts a floating tensor (F32, F16, BF16, F64) to float32 into out[numel]; throws Error
  // naming the tensor for other dtypes.
  void read_f32(const TensorInfo& tensor, float* out) const;

 private:
  struct Impl;
  explicit SafetensorsFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct TensorRef {
  std::string name;
  std::vector<std::int64_t> shape;
  const float* data;  // float32, shape's product elements
};

// Writes F32 tensors (sorted by name, as the Python writer does) atomically to `path`.
void save_safetensors(const std::filesystem::path& path, const std::vector<TensorRef>& tensors,
                      const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace simtune

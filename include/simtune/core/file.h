// File helpers used at I/O boundaries: whole-file reads, atomic writes, read-only mappings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace simtune {

// Whole file as bytes; throws Error naming the path when it cannot be read.
std::string read_file(const std::filesystem::path& path);

// Writes to "<path>.tmp-<pid>", fsyncs, renames over `path` and fsyncs the directory, so a crash
// leaves either the old file or the new one, never a torn one.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);
// The same for a file made of several pieces, written one after the other without first
// joining them (a model's tensors need not be copied into one buffer).
void write_file_atomic(const std::filesystem::path& path,
                       const std::vector<std::string_view>& pieces);

// Read-only memory mapping of a whole file (empty files map to an empty span).
class MappedFile {
 public:
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;

  std::span<const std::uint8_t> bytes() const { return {data_, size_}; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace simtune

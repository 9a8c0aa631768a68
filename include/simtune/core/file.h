// File helpers used at I/O boundaries: whole-file reads, atomic writes of files and of whole
// directories, checked appends, read-only mappings. Every write is checked: a failure throws
// Error naming the path and the system's reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace simtune {

// Whole file as bytes; throws Error naming the path when it cannot be read.
std::string read_file(const std::filesystem::path& path);

// Writes to "<path>.tmp-<pid>", fsyncs, renames over `path` and fsyncs the directory, so a crash
// leaves either the old file or the new one, never a torn one. The temporary is removed on an
// error and on SIGINT/SIGTERM; ones a killed process left beside `path` are removed here.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);
// The same for a file made of several pieces, written one after the other without first
// joining them (a model's tensors need not be copied into one buffer).
void write_file_atomic(const std::filesystem::path& path,
                       const std::vector<std::string_view>& pieces);

// Builds a directory with `build(staging)` in a temporary sibling of `target`
// (".<name>.simtune-new-<pid>"), fsyncs it and swaps it in with one atomic rename (an exchange
// when `target` exists), so that at every instant `target` is the complete old directory or the
// complete new one. Entries of the old directory that `build` did not write (checkpoints,
// evaluation results, logs, the user's own files) are carried into the new one as hard links.
// Temporaries are removed on an error and on SIGINT/SIGTERM; ones a killed process left are
// removed (or, where a kill interrupted a swap, restored) by the next save to `target`.
void save_directory_atomic(const std::filesystem::path& target,
                           const std::function<void(const std::filesystem::path&)>& build);

// Renames `target` to a temporary sibling, then deletes it: a kill never leaves a half-deleted
// directory under its real name.
void remove_directory_atomic(const std::filesystem::path& target);

// A file opened for appending (created if missing; emptied first with `truncate`); every
// append is written through and checked.
class AppendFile {
 public:
  AppendFile() = default;
  AppendFile(const std::filesystem::path& path, bool truncate);
  ~AppendFile();
  AppendFile(AppendFile&& other) noexcept;
  AppendFile& operator=(AppendFile&& other) noexcept;

  bool is_open() const { return fd_ >= 0; }
  void append(std::string_view bytes);

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

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

#include "simtune/core/file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "core/temp_paths.h"
#include "simtune/core/error.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;

std::string errno_text() {
  return std::strerror(errno);
}

void write_all(int fd, std::string_view bytes, const std::filesystem::path& path) {
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(path.string() + ": write failed: " + errno_text());
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

void fsync_path(const fs::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) throw Error(path.string() + ": cannot open for fsync: " + errno_text());
  const int rc = ::fsync(fd);
  const std::string why = rc != 0 ? errno_text() : "";
  ::close(fd);
  if (rc != 0) throw Error(path.string() + ": fsync failed: " + why);
}

void fsync_directory(const fs::path& dir) {
  fsync_path(dir.empty() ? fs::path(".") : dir, O_RDONLY | O_DIRECTORY);
}

// Temporaries a killed process left inside `dir` (write_file_atomic's "<file>.tmp-<pid>").
void remove_stale_temps_in(const fs::path& dir, const std::string& prefix) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    long pid = 0;
    if (name.starts_with(prefix) && is_temp_name(name, pid) && !process_alive(pid)) {
      fs::remove_all(it->path(), ec);
    }
  }
}

// The temporaries a killed save to `target` left beside it. Where the kill fell between the two
// renames of a swap without an atomic exchange, the old directory is put back first.
void recover_siblings(const fs::path& target) {
  const std::string prefix = "." + target.filename().string() + ".simtune-";
  std::error_code ec;
  for (fs::directory_iterator it(target.parent_path(), ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    long pid = 0;
    if (!name.starts_with(prefix) || !is_temp_name(name, pid) || process_alive(pid)) continue;
    std::error_code missing;
    if (name.starts_with(prefix + "old-") && !fs::exists(fs::symlink_status(target, missing))) {
      fs::rename(it->path(), target);
      continue;
    }
    fs::remove_all(it->path());
  }
}

// Links what `from` holds and `to` lacks into `to`, recursing into directories both hold.
void carry_over(const fs::path& from, const fs::path& to) {
  for (const fs::directory_entry& e : fs::directory_iterator(from)) {
    const fs::path src = e.path();
    const fs::path dst = to / src.filename();
    long pid = 0;
    if (is_temp_name(src.filename().string(), pid)) continue;
    const fs::file_status st = e.symlink_status();
    std::error_code ec;
    const fs::file_status have = fs::symlink_status(dst, ec);
    if (fs::exists(have)) {
      if (fs::is_directory(st) && fs::is_directory(have)) carry_over(src, dst);
      continue;
    }
    if (fs::is_symlink(st)) {
      fs::copy_symlink(src, dst);
    } else if (fs::is_directory(st)) {
      fs::create_directory(dst);
      carry_over(src, dst);
    } else if (fs::is_regular_file(st)) {
      if (::link(src.c_str(), dst.c_str()) != 0) {
        throw Error(src.string() + ": cannot carry into the new directory (" + errno_text() + ")");
      }
    }
  }
}

void fsync_tree(const fs::path& dir) {
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    if (e.is_directory() && !e.is_symlink()) fsync_tree(e.path());
  }
  fsync_directory(dir);
}

// `target` made absolute without a trailing separator, so that its parent and name are real.
fs::path normalized_target(const fs::path& target) {
  fs::path t = fs::absolute(target).lexically_normal();
  if (t.filename().empty()) t = t.parent_path();
  const fs::path cwd = fs::current_path();
  const auto [cwd_end, t_end] = std::mismatch(cwd.begin(), cwd.end(), t.begin(), t.end());
  if (t_end == t.end() || t.filename().empty()) {
    throw Error(target.string() +
                ": is the current directory or contains it; give another directory");
  }
  return t;
}

}  // namespace

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot open file: " + errno_text());
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw Error(path.string() + ": read failed");
  return std::move(buf).str();
}

void write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
  write_file_atomic(path, std::vector<std::string_view>{bytes});
}

void write_file_atomic(const std::filesystem::path& path,
                       const std::vector<std::string_view>& pieces) {
  fs::path tmp_name = path;
  tmp_name += ".tmp-" + std::to_string(::getpid());
  TempPath tmp(tmp_name);
  int fd = ::open(tmp_name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(path.string() + ": cannot create file: " + errno_text());
  try {
    for (std::string_view piece : pieces) write_all(fd, piece, path);
    if (::fsync(fd) != 0) throw Error(path.string() + ": fsync failed: " + errno_text());
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0) throw Error(path.string() + ": write failed: " + errno_text());
  if (::rename(tmp_name.c_str(), path.c_str()) != 0) {
    throw Error(path.string() + ": cannot rename temporary file into place: " + errno_text());
  }
  tmp.release();
  fsync_directory(path.parent_path());
  remove_stale_temps_in(path.parent_path().empty() ? fs::path(".") : path.parent_path(),
                        path.filename().string() + ".tmp-");
}

void save_directory_atomic(const fs::path& target,
                           const std::function<void(const fs::path&)>& build) {
  const fs::path t = normalized_target(target);
  std::error_code ec;
  const fs::file_status st = fs::status(t, ec);
  if (fs::exists(st) && !fs::is_directory(st)) {
    throw Error(target.string() + ": exists and is not a directory");
  }
  fs::create_directories(t.parent_path());
  recover_siblings(t);
  TempPath staging(temp_sibling(t, "new"));
  fs::remove_all(staging.path());
  fs::create_directory(staging.path());
  build(staging.path());
  if (fs::exists(t)) carry_over(t, staging.path());
  fsync_tree(staging.path());
  if (::renameat2(AT_FDCWD, staging.path().c_str(), AT_FDCWD, t.c_str(), RENAME_EXCHANGE) == 0) {
    // The staging name now holds the old directory, which the destructor deletes.
    fsync_directory(t.parent_path());
    return;
  }
  if (errno == ENOENT) {
    if (::rename(staging.path().c_str(), t.c_str()) != 0) {
      throw Error(target.string() +
                  ": cannot rename the new directory into place: " + errno_text());
    }
  } else {
    // Without an atomic exchange (errno EINVAL on some filesystems) there is a moment with the
    // old directory under its "old" name; recover_siblings puts it back after a kill there.
    const fs::path old = temp_sibling(t, "old");
    fs::rename(t, old);
    fs::rename(staging.path(), t);
    fs::remove_all(old);
  }
  staging.release();
  fsync_directory(t.parent_path());
}

void remove_directory_atomic(const fs::path& target) {
  const TempPath trash(temp_sibling(target, "trash"));
  fs::rename(target, trash.path());
}

AppendFile::AppendFile(const fs::path& path, bool truncate) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0),
               0644);
  if (fd_ < 0) throw Error(path.string() + ": cannot open for writing: " + errno_text());
}

AppendFile::~AppendFile() {
  if (fd_ >= 0) ::close(fd_);
}

AppendFile::AppendFile(AppendFile&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

AppendFile& AppendFile::operator=(AppendFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void AppendFile::append(std::string_view bytes) {
  write_all(fd_, bytes, path_);
}

MappedFile::MappedFile(const std::filesystem::path& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path.string() + ": cannot open file: " + errno_text());
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    std::string why = errno_text();
    ::close(fd);
    throw Error(path.string() + ": cannot stat file: " + why);
  }
  size_ = static_cast<std::size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      std::string why = errno_text();
      ::close(fd);
      throw Error(path.string() + ": cannot map file: " + why);
    }
    data_ = static_cast<const std::uint8_t*>(p);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<std::uint8_t*>(data_), size_);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) ::munmap(const_cast<std::uint8_t*>(data_), size_);
    path_ = std::move(other.path_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

}  // namespace simtune

// A fresh, empty directory under the system's temporary directory, removed with the object.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

namespace simtune::testing {

class TempDir {
 public:
  // The process id keeps ctest's parallel test processes apart.
  explicit TempDir(const std::string& name = "test")
      : path_(std::filesystem::temp_directory_path() /
              ("simtune-" + name + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace simtune::testing

// Temporary files and directories a save builds beside its target. While one is registered,
// SIGINT and SIGTERM remove it before the process dies (the handler uses only async-signal-safe
// calls), and an error path removes it as the TempPath goes out of scope. A SIGKILL leaves it
// behind under a recognisable name (temp_sibling), which the next save to the same target
// removes (remove_stale_siblings).
#pragma once

#include <filesystem>
#include <string>

namespace simtune {

class TempPath {
 public:
  explicit TempPath(std::filesystem::path path);
  ~TempPath();
  TempPath(const TempPath&) = delete;
  TempPath& operator=(const TempPath&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // The path now belongs to someone else (renamed into place): neither a signal nor the
  // destructor removes it any more.
  void release();

 private:
  std::filesystem::path path_;
  int slot_ = -1;
};

// "<dir>/.<name>.simtune-<kind>-<pid>" for target "<dir>/<name>".
std::filesystem::path temp_sibling(const std::filesystem::path& target, const std::string& kind);

// True when `name` is a temporary simtune leaves beside or inside a target:
// "<file>.tmp-<pid>" (write_file_atomic) or ".<name>.simtune-<kind>-<pid>"; `pid` receives the
// writer's process id.
bool is_temp_name(const std::string& name, long& pid);

// True while process `pid` exists.
bool process_alive(long pid);

}  // namespace simtune

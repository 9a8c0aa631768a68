#include "core/temp_paths.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <mutex>

namespace simtune {
namespace {

namespace fs = std::filesystem;

// Fixed storage the signal handler can read without allocating.
struct Slot {
  std::atomic<bool> used{false};
  char path[PATH_MAX];
};
constexpr int kSlots = 32;
Slot g_slots[kSlots];

// Removes `name` under `dirfd` and, for a directory, everything below it (depth-limited: the
// trees simtune builds are a few levels deep). Async-signal-safe: raw system calls only.
void remove_tree_at(int dirfd, const char* name, int depth) {
  if (::unlinkat(dirfd, name, 0) == 0 || errno != EISDIR || depth > 8) {
    return;
  }
  const int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return;
  // Entries deleted while a directory is read can make the reading skip others, so the
  // directory is read again from the start until it is empty (or after a few passes).
  for (int pass = 0; pass < 16; pass++) {
    ::lseek(fd, 0, SEEK_SET);
    alignas(8) char buf[4096];
    for (;;) {
      const long n = ::syscall(SYS_getdents64, fd, buf, sizeof buf);
      if (n <= 0) break;
      for (long off = 0; off < n;) {
        struct Entry {
          std::uint64_t ino;
          std::int64_t off;
          unsigned short reclen;
          unsigned char type;
          char name[1];
        };
        const auto* e = reinterpret_cast<const Entry*>(buf + off);
        const bool dot =
            e->name[0] == '.' && (e->name[1] == 0 || (e->name[1] == '.' && e->name[2] == 0));
        if (!dot) remove_tree_at(fd, e->name, depth + 1);
        off += e->reclen;
      }
    }
    if (::unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno != ENOTEMPTY) break;
  }
  ::close(fd);
}

// The thread that saves (the one that installed the handlers).
std::atomic<long> g_saving_thread{0};

void on_signal(int sig) {
  const int saved = errno;
  // Run where the files are written: a handler on another thread (an OpenMP worker) would race
  // the saving thread, which could go on writing into a directory being removed.
  const long self = ::syscall(SYS_gettid);
  if (self != g_saving_thread.load()) {
    ::syscall(SYS_tgkill, ::getpid(), g_saving_thread.load(), sig);
    errno = saved;
    return;
  }
  for (Slot& s : g_slots) {
    if (s.used.load()) remove_tree_at(AT_FDCWD, s.path, 0);
  }
  errno = saved;
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(sig, &dfl, nullptr);
  ::raise(sig);
}

// Once per process; a handler someone else installed is left alone.
void install_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_saving_thread.store(::syscall(SYS_gettid));
    for (int sig : {SIGINT, SIGTERM}) {
      struct sigaction old {};
      if (::sigaction(sig, nullptr, &old) != 0 || old.sa_handler != SIG_DFL) continue;
      struct sigaction sa {};
      sa.sa_handler = on_signal;
      sigemptyset(&sa.sa_mask);
      ::sigaction(sig, &sa, nullptr);
    }
  });
}

bool parse_pid(std::string_view digits, long& pid) {
  if (digits.empty()) return false;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
  return ec == std::errc() && end == digits.data() + digits.size() && pid > 0;
}

}  // namespace

TempPath::TempPath(fs::path path) : path_(fs::absolute(std::move(path))) {
  install_handlers();
  const std::string& p = path_.native();
  if (p.size() >= PATH_MAX) return;
  static std::mutex registering;
  const std::lock_guard lock(registering);
  for (int i = 0; i < kSlots; i++) {
    Slot& s = g_slots[i];
    if (s.used.load()) continue;
    // The path is copied in before the slot is marked used, so the handler never reads a
    // half-written one.
    std::memcpy(s.path, p.c_str(), p.size() + 1);
    s.used.store(true);
    slot_ = i;
    break;
  }
}

TempPath::~TempPath() {
  if (path_.empty()) return;
  // Still registered while it is removed, so a signal meanwhile finishes the removal.
  std::error_code ec;
  fs::remove_all(path_, ec);
  if (slot_ >= 0) g_slots[slot_].used.store(false);
}

void TempPath::release() {
  if (slot_ >= 0) g_slots[slot_].used.store(false);
  slot_ = -1;
  path_.clear();
}

fs::path temp_sibling(const fs::path& target, const std::string& kind) {
  return target.parent_path() /
         ("." + target.filename().string() + ".simtune-" + kind + "-" + std::to_string(::getpid()));
}

bool is_temp_name(const std::string& name, long& pid) {
  const std::size_t dash = name.rfind('-');
  if (dash == std::string::npos || !parse_pid(std::string_view(name).substr(dash + 1), pid)) {
    return false;
  }
  const std::string_view head = std::string_view(name).substr(0, dash);
  if (head.ends_with(".tmp")) return head.size() > 4;
  return name.front() == '.' && head.find(".simtune-") != std::string_view::npos;
}

bool process_alive(long pid) {
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH;
}

}  // namespace simtune

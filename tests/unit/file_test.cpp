// Whole-directory atomic saves and checked writes (include/simtune/core/file.h).
#include "simtune/core/file.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "core/temp_paths.h"
#include "test_errors.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;
using simtune::testing::error_of;

fs::path temp_dir(const std::string& name) {
  fs::path dir =
      fs::temp_directory_path() / ("simtune_file_test_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Entries of `dir` that are simtune temporaries.
int temporaries(const fs::path& dir) {
  int n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    long pid = 0;
    n += is_temp_name(e.path().filename().string(), pid) ? 1 : 0;
  }
  return n;
}

// A process id that is certainly not running: a child that has exited and been reaped.
long dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

TEST(SaveDirectory, ReplacesTheWholeDirectoryAndCarriesOverOtherEntries) {
  const fs::path root = temp_dir("replace");
  const fs::path target = root / "model";
  save_directory_atomic(target, [](const fs::path& d) {
    write_file_atomic(d / "config.json", "old");
    write_file_atomic(d / "weights", "old weights");
  });
  fs::create_directories(target / "checkpoints" / "checkpoint-1");
  write_file_atomic(target / "checkpoints" / "checkpoint-1" / "state", "kept");
  write_file_atomic(target / "log.jsonl", "kept log");
  save_directory_atomic(target, [](const fs::path& d) {
    write_file_atomic(d / "config.json", "new");
    write_file_atomic(d / "weights", "new weights");
  });
  EXPECT_EQ(read_file(target / "config.json"), "new");
  EXPECT_EQ(read_file(target / "weights"), "new weights");
  EXPECT_EQ(read_file(target / "checkpoints" / "checkpoint-1" / "state"), "kept");
  EXPECT_EQ(read_file(target / "log.jsonl"), "kept log");
  EXPECT_EQ(temporaries(root), 0);
}

TEST(SaveDirectory, AFailedBuildLeavesTheOldDirectoryAndNoTemporaries) {
  const fs::path root = temp_dir("failed");
  const fs::path target = root / "model";
  save_directory_atomic(target, [](const fs::path& d) { write_file_atomic(d / "a", "old"); });
  EXPECT_CONTAINS(error_of([&] {
                    save_directory_atomic(target, [](const fs::path& d) {
                      write_file_atomic(d / "a", "new");
                      throw Error("disk full");
                    });
                  }),
                  "disk full");
  EXPECT_EQ(read_file(target / "a"), "old");
  EXPECT_EQ(temporaries(root), 0);
}

TEST(SaveDirectory, RemovesWhatAKilledSaveLeftAndRestoresAnInterruptedSwap) {
  const fs::path root = temp_dir("stale");
  const fs::path target = root / "model";
  const std::string pid = std::to_string(dead_pid());
  // A killed build, and a killed two-rename swap: the old directory under its "old" name and
  // nothing under the target's.
  fs::create_directories(root / (".model.simtune-new-" + pid));
  fs::create_directories(root / (".model.simtune-old-" + pid));
  write_file_atomic(root / (".model.simtune-old-" + pid) / "a", "old");
  save_directory_atomic(target, [&](const fs::path& d) {
    // The old directory is back before the build: its entries are carried over.
    EXPECT_EQ(read_file(target / "a"), "old");
    write_file_atomic(d / "b", "new");
  });
  EXPECT_EQ(read_file(target / "a"), "old");
  EXPECT_EQ(read_file(target / "b"), "new");
  EXPECT_EQ(temporaries(root), 0);
  // A file temporary a killed write_file_atomic left is dropped by the next write beside it.
  write_file_atomic(target / ("b.tmp-" + pid), "torn");
  write_file_atomic(target / "b", "newer");
  EXPECT_FALSE(fs::exists(target / ("b.tmp-" + pid)));
}

TEST(SaveDirectory, RefusesAFileAndTheCurrentDirectory) {
  const fs::path root = temp_dir("refuse");
  write_file_atomic(root / "file", "x");
  EXPECT_CONTAINS(error_of([&] { save_directory_atomic(root / "file", [](const fs::path&) {}); }),
                  "not a directory");
  EXPECT_CONTAINS(error_of([&] { save_directory_atomic(".", [](const fs::path&) {}); }),
                  "current directory");
}

TEST(AppendFile, ReportsAFullDevice) {
  AppendFile full("/dev/full", false);
  EXPECT_CONTAINS(error_of([&] { full.append("row\n"); }), "/dev/full: write failed");
}

TEST(TempNames, RecogniseWhatSimtuneLeaves) {
  long pid = 0;
  EXPECT_TRUE(is_temp_name("model.safetensors.tmp-123", pid));
  EXPECT_EQ(pid, 123);
  EXPECT_TRUE(is_temp_name(".out.simtune-new-77", pid));
  EXPECT_EQ(pid, 77);
  for (const char* other : {"checkpoint-12", "model.safetensors", ".tmp-5", "a.tmp-", "x-1"}) {
    EXPECT_FALSE(is_temp_name(other, pid)) << other;
  }
}

}  // namespace
}  // namespace simtune

#include "simtune/io/hub.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "io/hub_cache.h"
#include "simtune/core/error.h"
#include "temp_dir.h"
#include "test_errors.h"

namespace fs = std::filesystem;
using namespace simtune;
using namespace simtune::hub;

namespace {

const std::string kCommit = "0123456789abcdef0123456789abcdef01234567";

using simtune::testing::TempDir;

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// Sets (or, for nullptr, unsets) an environment variable for one test, restoring it after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value ? ::setenv(name, value, 1) : ::unsetenv(name);
  }
  ~ScopedEnv() { old_ ? ::setenv(name_, old_->c_str(), 1) : ::unsetenv(name_); }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// A cache as huggingface_hub leaves it: refs/main -> commit, snapshot files linked to blobs.
fs::path make_cached_repo(const fs::path& cache, bool with_weights) {
  const fs::path repo = cache / "models--org--name";
  write(repo / "refs" / "main", kCommit);
  write(repo / "blobs" / "aaaa",
        R"([{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"}])");
  link_snapshot_file(repo, kCommit, "modules.json", "aaaa");
  if (with_weights) {
    write(repo / "blobs" / "bbbb", "weights");
    link_snapshot_file(repo, kCommit, "model.safetensors", "bbbb");
  }
  return repo;
}

}  // namespace

TEST(Hub, ParsesHubIds) {
  const auto id = parse_hub_id("sentence-transformers/paraphrase-MiniLM-L6-v2");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->repo, "sentence-transformers/paraphrase-MiniLM-L6-v2");
  EXPECT_EQ(id->revision, "main");
  const auto pinned = parse_hub_id("org/name@refs/pr/1");
  ASSERT_TRUE(pinned);
  EXPECT_EQ(pinned->repo, "org/name");
  EXPECT_EQ(pinned->revision, "refs/pr/1");
  // Without an organisation, as sentence-transformers resolves names.
  EXPECT_EQ(parse_hub_id("all-MiniLM-L6-v2")->repo, "sentence-transformers/all-MiniLM-L6-v2");
  EXPECT_EQ(parse_hub_id("all-MiniLM-L6-v2@v1")->revision, "v1");
  EXPECT_EQ(parse_hub_id("bert-base-uncased")->repo, "bert-base-uncased");
  for (const char* bad : {"-name", "na--me", "org/name/extra", "/abs/path", "./rel", "org/na--me",
                          "org/..", "org/name@", "org/-name", "../models", "org/na me"}) {
    EXPECT_FALSE(parse_hub_id(bad)) << bad;
  }
}

TEST(Hub, RevisionsAndServerNamesStayInsideTheCache) {
  for (const char* good : {"main", "v1.0", "refs/pr/1", "release-2024_01",
                           "0123456789abcdef0123456789abcdef01234567"}) {
    EXPECT_TRUE(valid_revision(good)) << good;
  }
  for (const char* bad : {"..",      "../../../../escaped_ref",
                          "a/../b",  "a/./b",
                          ".hidden", "a/",
                          "/abs",    "a//b",
                          "x.lock",  "a:b",
                          "a b",     "a~1",
                          "a^",      "a?",
                          "a*",      "a[",
                          "a\\b",    "@",
                          "a@{1}",   "end."}) {
    EXPECT_FALSE(valid_revision(bad)) << bad;
  }
  EXPECT_CONTAINS(simtune::testing::error_of([] { parse_hub_id("org/name@../../x"); }),
                  "not a valid branch");
  EXPECT_TRUE(valid_commit("0123456789abcdef0123456789abcdef01234567"));
  EXPECT_FALSE(valid_commit("../../../../escaped_snap"));
  EXPECT_FALSE(valid_commit("0123456789ABCDEF0123456789abcdef01234567"));
  EXPECT_TRUE(valid_blob_name("5d41402abc4b2a76b9719d911017c592"));
  for (const char* bad : {"", "..", ".", "../x", "a/b", "a\\b"}) {
    EXPECT_FALSE(valid_blob_name(bad)) << bad;
  }
  EXPECT_EQ(confined("/cache/snap", "1_Pooling/config.json", "file"),
            std::filesystem::path("/cache/snap/1_Pooling/config.json"));
  for (const char* bad : {"../x", "a/../../x", "/etc/passwd", ""}) {
    EXPECT_CONTAINS(simtune::testing::error_of([&] { confined("/cache/snap", bad, "file"); }),
                    "outside");
  }
}

TEST(Hub, CacheNamesAndEtags) {
  EXPECT_EQ(repo_folder_name("org/name"), "models--org--name");
  EXPECT_EQ(normalize_etag("\"abc\""), "abc");
  EXPECT_EQ(normalize_etag("W/\"abc\""), "abc");
  EXPECT_EQ(normalize_etag("abc"), "abc");
}

TEST(Hub, SettingsFollowHuggingFaceHubsEnvironment) {
  ScopedEnv hub_cache("HF_HUB_CACHE", nullptr), home("HF_HOME", "/tmp/hf-home"),
      endpoint("HF_ENDPOINT", "http://127.0.0.1:1234/"), token("HF_TOKEN", "t"),
      offline("HF_HUB_OFFLINE", "yes");
  HubSettings s = resolve_settings({});
  EXPECT_EQ(s.cache_dir, fs::path("/tmp/hf-home/hub"));
  EXPECT_EQ(s.endpoint, "http://127.0.0.1:1234");
  EXPECT_EQ(s.token, "t");
  EXPECT_TRUE(s.offline);
  {
    ScopedEnv cache("HF_HUB_CACHE", "/tmp/elsewhere"), off("HF_HUB_OFFLINE", "0");
    s = resolve_settings({});
    EXPECT_EQ(s.cache_dir, fs::path("/tmp/elsewhere"));
    EXPECT_FALSE(s.offline);
  }
  HubOptions options;
  options.cache_dir = "/tmp/given";
  options.endpoint = "https://mirror";
  options.offline = false;
  s = resolve_settings(options);
  EXPECT_EQ(s.cache_dir, fs::path("/tmp/given"));
  EXPECT_EQ(s.endpoint, "https://mirror");
  EXPECT_FALSE(s.offline);
  {
    ScopedEnv no_home("HF_HOME", nullptr), xdg("XDG_CACHE_HOME", nullptr), user("HOME", "/home/u"),
        no_endpoint("HF_ENDPOINT", nullptr);
    s = resolve_settings({});
    EXPECT_EQ(s.cache_dir, fs::path("/home/u/.cache/huggingface/hub"));
    EXPECT_EQ(s.endpoint, "https://huggingface.co");
  }
}

TEST(Hub, TokenFileWhenNoTokenVariable) {
  TempDir dir;
  write(dir.path() / "token", "hf_from_file\n");
  ScopedEnv home("HF_HOME", dir.path().c_str()), token("HF_TOKEN", nullptr),
      token_path("HF_TOKEN_PATH", nullptr);
  EXPECT_EQ(resolve_settings({}).token, "hf_from_file");
}

TEST(Hub, LinksSnapshotFilesRelativeToBlobs) {
  TempDir dir;
  const fs::path repo = dir.path() / "models--org--name";
  write(repo / "blobs" / "e1", "pooling");
  link_snapshot_file(repo, kCommit, "1_Pooling/config.json", "e1");
  const fs::path pointer = repo / "snapshots" / kCommit / "1_Pooling" / "config.json";
  EXPECT_EQ(fs::read_symlink(pointer), fs::path("../../../blobs/e1"));
  write(repo / "blobs" / "e2", "new");
  link_snapshot_file(repo, kCommit, "1_Pooling/config.json", "e2");  // replaces the old link
  EXPECT_EQ(fs::read_symlink(pointer), fs::path("../../../blobs/e2"));
}

TEST(Hub, FindsCachedSnapshotsByRefOrCommit) {
  TempDir dir;
  const fs::path repo = make_cached_repo(dir.path(), true);
  const fs::path snapshot = repo / "snapshots" / kCommit;
  EXPECT_EQ(cached_snapshot(repo, "main"), snapshot);
  EXPECT_EQ(cached_snapshot(repo, kCommit), snapshot);
  EXPECT_FALSE(cached_snapshot(repo, "dev"));
  EXPECT_FALSE(cached_snapshot(repo, std::string(40, 'f')));
  EXPECT_TRUE(snapshot_complete(snapshot));
}

TEST(Hub, SnapshotWithoutWeightsIsIncomplete) {
  TempDir dir;
  const fs::path repo = make_cached_repo(dir.path(), false);
  EXPECT_FALSE(snapshot_complete(repo / "snapshots" / kCommit));
}

TEST(Hub, SnapshotWithTorchBinOrEveryShardIsComplete) {
  TempDir dir;
  const fs::path repo = make_cached_repo(dir.path(), false);
  const fs::path snapshot = repo / "snapshots" / kCommit;
  write(repo / "blobs" / "cccc",
        R"({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}})");
  link_snapshot_file(repo, kCommit, "model.safetensors.index.json", "cccc");
  write(repo / "blobs" / "dddd", "shard");
  link_snapshot_file(repo, kCommit, "s1.safetensors", "dddd");
  EXPECT_FALSE(snapshot_complete(snapshot));  // s2 not downloaded yet
  link_snapshot_file(repo, kCommit, "s2.safetensors", "dddd");
  EXPECT_TRUE(snapshot_complete(snapshot));

  const fs::path bin_repo = make_cached_repo(dir.path() / "bin", false);
  write(bin_repo / "blobs" / "eeee", "pickle");
  link_snapshot_file(bin_repo, kCommit, "pytorch_model.bin", "eeee");
  EXPECT_TRUE(snapshot_complete(bin_repo / "snapshots" / kCommit));
}

TEST(Hub, ResolvesOfflineFromTheCacheOnly) {
  TempDir dir;
  make_cached_repo(dir.path() / "cache", true);
  HubOptions options;
  options.cache_dir = dir.path() / "cache";
  options.offline = true;
  EXPECT_EQ(resolve_model("org/name", options),
            dir.path() / "cache" / "models--org--name" / "snapshots" / kCommit);
  try {
    resolve_model("org/missing", options);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("HF_HUB_OFFLINE"), std::string::npos) << e.what();
  }
}

TEST(Hub, LocalDirectoriesAndOtherNamesPassThrough) {
  TempDir dir;
  fs::create_directories(dir.path() / "org" / "name");
  HubOptions options;
  options.offline = true;
  options.cache_dir = dir.path() / "empty-cache";
  const fs::path local = dir.path() / "org" / "name";
  EXPECT_EQ(resolve_model(local.string(), options), local);
  EXPECT_EQ(resolve_model("no/such/dir", options), fs::path("no/such/dir"));
  // A bare name is sentence-transformers' own model.
  EXPECT_CONTAINS(simtune::testing::error_of([&] { resolve_model("no-such-dir", options); }),
                  "models--sentence-transformers--no-such-dir");
}

TEST(Hub, ProgressLine) {
  EXPECT_EQ(progress_line("model.safetensors", 45'200'000, 90'900'000, 12'300'000),
            "model.safetensors  45.2 MB / 90.9 MB  12.3 MB/s  ETA 0:04");
  EXPECT_EQ(progress_line("vocab.txt", 231'500, -1, 2'000'000'000),
            "vocab.txt  231.5 kB  2.0 GB/s");
}

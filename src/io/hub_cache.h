// The pieces of hub resolution that need no network: hub ids, settings from the environment,
// huggingface_hub's cache layout. Exposed for the unit tests.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "simtune/io/hub.h"

namespace simtune::hub {

struct HubId {
  std::string repo;      // "org/name" (or an original transformers checkpoint's bare name)
  std::string revision;  // branch, tag or commit; "main" when not given
};

// "org/name" or "org/name@revision" with huggingface_hub's repo-id rules; nullopt otherwise. A
// name without an organisation resolves as sentence-transformers resolves it:
// "all-MiniLM-L6-v2" -> "sentence-transformers/all-MiniLM-L6-v2", while the original transformers
// checkpoints ("bert-base-uncased", ...) keep their bare name.
// A valid repo id whose revision is not a valid ref name (valid_revision) throws Error.
std::optional<HubId> parse_hub_id(std::string_view name);

// Every name below joins paths in the cache, so each is checked before use.
// A branch or tag name by git check-ref-format's rules (which the hub's refs follow: no "..",
// no part starting with "." or ending with ".lock", no "@{", no space, control character or any
// of ~^:?*[\, not "@", no empty part), or a commit id.
bool valid_revision(std::string_view revision);
// A commit id as the hub sends it in X-Repo-Commit: 40 lowercase hex digits.
bool valid_commit(std::string_view commit);
// A blob name from an ETag: letters, digits, '-', '_' and '.', not starting with '.'.
bool valid_blob_name(std::string_view etag);
// `base / relative` when that stays inside `base` (no absolute path, no ".." part); throws
// Error naming `what` otherwise.
std::filesystem::path confined(const std::filesystem::path& base, const std::string& relative,
                               const std::string& what);

struct HubSettings {
  std::filesystem::path cache_dir;
  std::string endpoint;  // without a trailing slash
  std::string token;
  bool offline = false;
  bool progress = true;
};
HubSettings resolve_settings(const HubOptions& options);

// "org/name" -> "models--org--name".
std::string repo_folder_name(std::string_view repo);

// ETag header value -> blob name: W/ prefix and quotes removed.
std::string normalize_etag(std::string_view etag);

// The snapshot directory `revision` points to in `repo_dir`, or nullopt when the cache has no
// such ref or snapshot.
std::optional<std::filesystem::path> cached_snapshot(const std::filesystem::path& repo_dir,
                                                     const std::string& revision);

// True when the weights of every Transformer module the snapshot's modules.json (or a plain
// model) names are there (model.safetensors, the shard index and its shards, or
// pytorch_model.bin), so a snapshot left half-downloaded is not mistaken for a usable one.
bool snapshot_complete(const std::filesystem::path& snapshot);

// snapshots/<commit>/<file> -> ../../blobs/<etag> (relative, as huggingface_hub links them).
void link_snapshot_file(const std::filesystem::path& repo_dir, const std::string& commit,
                        const std::string& file, const std::string& etag);

// One progress line: "name  45.2 MB / 90.9 MB  12.3 MB/s  ETA 0:04" (total < 0: unknown);
// kB, MB or GB as the size calls for.
std::string progress_line(const std::string& name, std::int64_t done, std::int64_t total,
                          double bytes_per_second);

}  // namespace simtune::hub

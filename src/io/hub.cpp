#include "simtune/io/hub.h"
#include "simtune/io/modules.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <vector>

#include "io/hub_cache.h"
#include "io/weight_files.h"
#include "simtune/core/error.h"
#include "simtune/core/file.h"

namespace simtune {
namespace fs = std::filesystem;

namespace hub {
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// huggingface_hub's constants._is_true.
bool env_true(const char* name) {
  std::string v = env(name);
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::toupper(c); });
  return v == "1" || v == "ON" || v == "YES" || v == "TRUE";
}

std::string trim(std::string s) {
  const auto space = [](unsigned char c) { return std::isspace(c) != 0; };
  s.erase(s.begin(), std::find_if_not(s.begin(), s.end(), space));
  s.erase(std::find_if_not(s.rbegin(), s.rend(), space).base(), s.end());
  return s;
}

bool is_hex(std::string_view s, std::size_t length) {
  return s.size() == length && std::all_of(s.begin(), s.end(), [](unsigned char c) {
           return std::isdigit(c) || (c >= 'a' && c <= 'f');
         });
}

// One part of a repo id, as huggingface_hub's validate_repo_id accepts it: word characters,
// '-' and '.', starting and ending with a word character, no "--" or "..".
bool valid_id_part(std::string_view s) {
  const auto word = [](unsigned char c) { return std::isalnum(c) || c == '_'; };
  if (s.empty() || !word(s.front()) || !word(s.back())) return false;
  if (s.find("--") != std::string_view::npos || s.find("..") != std::string_view::npos) {
    return false;
  }
  return std::all_of(s.begin(), s.end(),
                     [&](unsigned char c) { return word(c) || c == '-' || c == '.'; });
}

// A relative path that stays inside the snapshot (module paths come from a downloaded file).
bool safe_relative(const std::string& file) {
  const fs::path p(file);
  if (file.empty() || p.is_absolute()) return false;
  return std::none_of(p.begin(), p.end(), [](const fs::path& part) { return part == ".."; });
}

// The original transformers checkpoints, which sentence-transformers requests by their bare
// name (sentence_transformers.util.misc.ORIGINAL_TRANSFORMER_MODELS).
constexpr std::string_view kOriginalTransformerModels[] = {
    "albert-base-v1",
    "albert-base-v2",
    "albert-large-v1",
    "albert-large-v2",
    "albert-xlarge-v1",
    "albert-xlarge-v2",
    "albert-xxlarge-v1",
    "albert-xxlarge-v2",
    "bert-base-cased-finetuned-mrpc",
    "bert-base-cased",
    "bert-base-chinese",
    "bert-base-german-cased",
    "bert-base-german-dbmdz-cased",
    "bert-base-german-dbmdz-uncased",
    "bert-base-multilingual-cased",
    "bert-base-multilingual-uncased",
    "bert-base-uncased",
    "bert-large-cased-whole-word-masking-finetuned-squad",
    "bert-large-cased-whole-word-masking",
    "bert-large-cased",
    "bert-large-uncased-whole-word-masking-finetuned-squad",
    "bert-large-uncased-whole-word-masking",
    "bert-large-uncased",
    "camembert-base",
    "ctrl",
    "distilbert-base-cased-distilled-squad",
    "distilbert-base-cased",
    "distilbert-base-german-cased",
    "distilbert-base-multilingual-cased",
    "distilbert-base-uncased-distilled-squad",
    "distilbert-base-uncased-finetuned-sst-2-english",
    "distilbert-base-uncased",
    "distilgpt2",
    "distilroberta-base",
    "gpt2-large",
    "gpt2-medium",
    "gpt2-xl",
    "gpt2",
    "openai-gpt",
    "roberta-base-openai-detector",
    "roberta-base",
    "roberta-large-mnli",
    "roberta-large-openai-detector",
    "roberta-large",
    "t5-11b",
    "t5-3b",
    "t5-base",
    "t5-large",
    "t5-small",
    "transfo-xl-wt103",
    "xlm-clm-ende-1024",
    "xlm-clm-enfr-1024",
    "xlm-mlm-100-1280",
    "xlm-mlm-17-1280",
    "xlm-mlm-en-2048",
    "xlm-mlm-ende-1024",
    "xlm-mlm-enfr-1024",
    "xlm-mlm-enro-1024",
    "xlm-mlm-tlm-xnli15-1024",
    "xlm-mlm-xnli15-1024",
    "xlm-roberta-base",
    "xlm-roberta-large-finetuned-conll02-dutch",
    "xlm-roberta-large-finetuned-conll02-spanish",
    "xlm-roberta-large-finetuned-conll03-english",
    "xlm-roberta-large-finetuned-conll03-german",
    "xlm-roberta-large",
    "xlnet-base-cased",
    "xlnet-large-cased",
};

bool is_original_transformer_model(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return std::find(std::begin(kOriginalTransformerModels), std::end(kOriginalTransformerModels),
                   lower) != std::end(kOriginalTransformerModels);
}

// A name without an organisation, as SentenceTransformer resolves it: its own organisation's
// model ("all-MiniLM-L6-v2" -> "sentence-transformers/all-MiniLM-L6-v2"), except the original
// transformers checkpoints, which keep their bare name.
std::string qualified_repo(const std::string& name) {
  return is_original_transformer_model(name) ? name : "sentence-transformers/" + name;
}

}  // namespace

std::optional<HubId> parse_hub_id(std::string_view name) {
  HubId id{std::string(name), "main"};
  if (const auto at = name.find('@'); at != std::string_view::npos) {
    id.repo = name.substr(0, at);
    id.revision = name.substr(at + 1);
    if (id.revision.empty()) return std::nullopt;
  }
  if (id.repo.find('/') == std::string::npos && valid_id_part(id.repo)) {
    id.repo = qualified_repo(id.repo);
  }
  const auto slash = id.repo.find('/');
  if (slash == std::string::npos || id.repo.size() > 96) {
    return id.repo.size() <= 96 && is_original_transformer_model(id.repo) ? std::optional<HubId>(id)
                                                                          : std::nullopt;
  }
  if (!valid_id_part(std::string_view(id.repo).substr(0, slash)) ||
      !valid_id_part(std::string_view(id.repo).substr(slash + 1))) {
    return std::nullopt;
  }
  if (!valid_revision(id.revision)) {
    throw Error(std::string(name) + ": revision \"" + id.revision +
                "\" is not a valid branch, tag or commit name");
  }
  return id;
}

bool valid_revision(std::string_view revision) {
  if (revision.empty() || revision.size() > 255 || revision == "@" ||
      revision.find("..") != std::string_view::npos ||
      revision.find("@{") != std::string_view::npos) {
    return false;
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t end = std::min(revision.find('/', start), revision.size());
    const std::string_view part = revision.substr(start, end - start);
    if (part.empty() || part.front() == '.' || part.ends_with(".lock")) return false;
    if (end == revision.size()) break;
    start = end + 1;
  }
  if (revision.back() == '.') return false;
  return std::none_of(revision.begin(), revision.end(), [](unsigned char c) {
    return c < 0x20 || c == 0x7f || std::strchr(" ~^:?*[\\", c) != nullptr;
  });
}

bool valid_commit(std::string_view commit) {
  return is_hex(commit, 40);
}

bool valid_blob_name(std::string_view etag) {
  return !etag.empty() && etag.size() <= 128 && etag.front() != '.' &&
         std::all_of(etag.begin(), etag.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '-' || c == '_' || c == '.';
         });
}

fs::path confined(const fs::path& base, const std::string& relative, const std::string& what) {
  if (!safe_relative(relative)) {
    throw Error(what + " \"" + relative + "\" would lead outside " + base.string());
  }
  return base / relative;
}

HubSettings resolve_settings(const HubOptions& options) {
  HubSettings s;
  fs::path hf_home = env("HF_HOME");
  if (hf_home.empty()) {
    const std::string xdg = env("XDG_CACHE_HOME");
    hf_home = (xdg.empty() ? fs::path(env("HOME")) / ".cache" : fs::path(xdg)) / "huggingface";
  }
  if (!options.cache_dir.empty()) {
    s.cache_dir = options.cache_dir;
  } else if (const std::string c = env("HF_HUB_CACHE"); !c.empty()) {
    s.cache_dir = c;
  } else {
    s.cache_dir = hf_home / "hub";
  }
  s.endpoint = !options.endpoint.empty() ? options.endpoint : env("HF_ENDPOINT");
  if (s.endpoint.empty()) s.endpoint = "https://huggingface.co";
  while (s.endpoint.ends_with('/')) s.endpoint.pop_back();
  s.token = !options.token.empty() ? options.token : env("HF_TOKEN");
  if (s.token.empty()) {
    const std::string token_path = env("HF_TOKEN_PATH");
    const fs::path path = token_path.empty() ? hf_home / "token" : fs::path(token_path);
    std::error_code ec;
    if (fs::is_regular_file(path, ec)) s.token = trim(read_file(path));
  }
  s.offline = options.offline.value_or(env_true("HF_HUB_OFFLINE"));
  s.progress = options.progress;
  return s;
}

std::string repo_folder_name(std::string_view repo) {
  std::string name = "models--";
  for (char c : repo) name += c == '/' ? std::string("--") : std::string(1, c);
  return name;
}

std::string normalize_etag(std::string_view etag) {
  if (etag.starts_with("W/")) etag.remove_prefix(2);
  while (!etag.empty() && etag.front() == '"') etag.remove_prefix(1);
  while (!etag.empty() && etag.back() == '"') etag.remove_suffix(1);
  return std::string(etag);
}

std::optional<fs::path> cached_snapshot(const fs::path& repo_dir, const std::string& revision) {
  std::string commit = revision;
  if (!valid_commit(revision)) {
    const fs::path ref = confined(repo_dir / "refs", revision, "revision");
    std::error_code ec;
    if (!fs::is_regular_file(ref, ec)) return std::nullopt;
    commit = trim(read_file(ref));
  }
  // A ref file is only trusted to name a snapshot, not to point anywhere else.
  if (!valid_commit(commit)) return std::nullopt;
  const fs::path snapshot = repo_dir / "snapshots" / commit;
  std::error_code ec;
  if (!fs::is_directory(snapshot, ec)) return std::nullopt;
  return snapshot;
}

namespace {

// The snapshot's modules, or none when it has no modules.json (a plain Hugging Face model).
std::vector<ModuleEntry> snapshot_modules(const fs::path& snapshot) {
  std::error_code ec;
  const fs::path path = snapshot / "modules.json";
  if (!fs::exists(path, ec)) return {};
  return read_modules(path);
}

// Directories holding a Transformer module's files: "" for most sentence-transformers models
// and for plain Hugging Face models, "0_Transformer" in older layouts.
std::vector<std::string> transformer_dirs(const std::vector<ModuleEntry>& modules) {
  std::vector<std::string> dirs;
  for (const ModuleEntry& m : modules) {
    if (m.kind == ModuleKind::Transformer) dirs.push_back(m.path);
  }
  if (dirs.empty()) dirs.push_back("");
  return dirs;
}

std::string join(const std::string& dir, const std::string& file) {
  return dir.empty() ? file : dir + "/" + file;
}

// Folders holding weights: the Transformer modules' and the Dense modules'.
std::vector<std::string> weight_dirs(const std::vector<ModuleEntry>& modules) {
  std::vector<std::string> dirs = transformer_dirs(modules);
  for (const ModuleEntry& m : modules) {
    if (m.kind == ModuleKind::Dense) dirs.push_back(m.path);
  }
  return dirs;
}

// One of the weight layouts Weights::open reads is all there: model.safetensors, the shard index
// with every shard, or pytorch_model.bin.
bool weights_complete(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir / kSafetensorsFile, ec)) return true;
  if (fs::exists(dir / kShardIndexFile, ec)) {
    try {
      const ShardIndex index = read_shard_index(dir / kShardIndexFile);
      return std::all_of(index.shards.begin(), index.shards.end(),
                         [&](const std::string& shard) { return fs::exists(dir / shard, ec); });
    } catch (const Error&) {
      return false;
    }
  }
  return fs::exists(dir / kTorchBinFile, ec);
}

}  // namespace

bool snapshot_complete(const fs::path& snapshot) {
  for (const std::string& dir : weight_dirs(snapshot_modules(snapshot))) {
    if (!safe_relative(join(dir, kSafetensorsFile)) || !weights_complete(snapshot / dir)) {
      return false;
    }
  }
  return true;
}

void link_snapshot_file(const fs::path& repo_dir, const std::string& commit,
                        const std::string& file, const std::string& etag) {
  if (!valid_commit(commit) || !valid_blob_name(etag)) {
    throw Error(repo_dir.string() + ": commit \"" + commit + "\" or blob \"" + etag +
                "\" is not a valid cache name");
  }
  const fs::path pointer = confined(repo_dir / "snapshots" / commit, file, "file");
  const fs::path blob = repo_dir / "blobs" / etag;
  fs::create_directories(pointer.parent_path());
  // Built beside the pointer and renamed over it, so a reader never sees the pointer missing.
  const fs::path tmp = pointer.string() + ".tmp-" + std::to_string(::getpid());
  fs::remove(tmp);
  fs::create_symlink(blob.lexically_relative(pointer.parent_path()), tmp);
  fs::rename(tmp, pointer);
}

std::string progress_line(const std::string& name, std::int64_t done, std::int64_t total,
                          double bytes_per_second) {
  const auto human = [](double bytes) {
    const char* unit = bytes >= 1e9 ? "GB" : bytes >= 1e6 ? "MB" : "kB";
    const double scale = bytes >= 1e9 ? 1e9 : bytes >= 1e6 ? 1e6 : 1e3;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f %s", bytes / scale, unit);
    return std::string(buf);
  };
  std::string line = name + "  " + human(static_cast<double>(done));
  if (total >= 0) line += " / " + human(static_cast<double>(total));
  line += "  " + human(bytes_per_second) + "/s";
  if (total >= 0 && bytes_per_second > 0) {
    const auto eta =
        static_cast<long long>(static_cast<double>(total - done) / bytes_per_second + 0.5);
    char buf[32];
    std::snprintf(buf, sizeof buf, "  ETA %lld:%02lld", eta / 60, eta % 60);
    line += buf;
  }
  return line;
}

namespace {

// The hub did not answer at all (DNS, refused connection, TLS, timeout): the caller may fall
// back to the cache, unlike an answer that says no.
struct Unreachable {
  std::string message;
};

struct Response {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names, last response only
  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto& r = *static_cast<Response*>(user);
  const std::string line(data, size * count);
  // A new status line starts the headers of the next response in a redirect chain.
  if (line.starts_with("HTTP/")) {
    r.headers.clear();
  } else if (const auto colon = line.find(':'); colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    r.headers[name] = trim(line.substr(colon + 1));
  }
  return size * count;
}

// Receives a (possibly ranged) GET body into a file opened at `offset`.
struct Sink {
  CURL* curl = nullptr;
  int fd = -1;
  std::int64_t offset = 0;  // bytes already in the file before this request
  std::int64_t written = 0;
  bool decided = false;
  bool to_file = false;
  bool write_failed = false;
  std::string range_error;
  const Response* response = nullptr;
  // Progress bar state.
  bool show = false;
  std::string name;
  std::int64_t total = -1;
  std::chrono::steady_clock::time_point start, last_draw;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto& s = *static_cast<Sink*>(user);
  const size_t n = size * count;
  if (!s.decided) {
    long code = 0;
    curl_easy_getinfo(s.curl, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 300 && code < 400) return n;  // a redirect's own body
    s.decided = true;
    if (code == 200) {
      // The server ignored the Range header: start the file over.
      if (s.offset > 0 && (::ftruncate(s.fd, 0) != 0 || ::lseek(s.fd, 0, SEEK_SET) != 0)) {
        s.write_failed = true;
        return 0;
      }
      s.offset = 0;
      s.to_file = true;
    } else if (code == 206) {
      const std::string range = s.response->header("content-range");
      const std::string expect = "bytes " + std::to_string(s.offset) + "-";
      if (!range.starts_with(expect)) {
        s.range_error =
            "Content-Range \"" + range + "\" does not continue at byte " + std::to_string(s.offset);
        return 0;
      }
      s.to_file = true;
    }
  }
  if (!s.to_file) return n;  // an error page; the status says what went wrong
  for (size_t done = 0; done < n;) {
    const ssize_t w = ::write(s.fd, data + done, n - done);
    if (w <= 0) {
      s.write_failed = true;
      return 0;
    }
    done += static_cast<size_t>(w);
  }
  s.written += static_cast<std::int64_t>(n);
  return n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto& s = *static_cast<Sink*>(user);
  if (!s.show) return 0;
  const auto now = std::chrono::steady_clock::now();
  if (now - s.last_draw < std::chrono::milliseconds(100)) return 0;
  s.last_draw = now;
  const double seconds = std::chrono::duration<double>(now - s.start).count();
  // The rate counts this request's bytes only; the position includes what a resume kept.
  const double rate = seconds > 0 ? static_cast<double>(s.written) / seconds : 0.0;
  const std::string line = progress_line(s.name, s.offset + s.written, s.total, rate);
  std::fprintf(stderr, "\r%-78s", line.c_str());
  return 0;
}

class Http {
 public:
  explicit Http(const HubSettings& settings) {
    static CurlGlobal global;
    curl_ = curl_easy_init();
    if (!curl_) throw Error("libcurl could not start a session");
    if (!settings.token.empty()) {
      auth_ = curl_slist_append(nullptr, ("Authorization: Bearer " + settings.token).c_str());
    }
  }
  ~Http() {
    curl_slist_free_all(auth_);
    curl_easy_cleanup(curl_);
  }
  Http(const Http&) = delete;
  Http& operator=(const Http&) = delete;

  // Metadata without following redirects: the hub's own headers (X-Repo-Commit,
  // X-Linked-Etag, X-Linked-Size) are on the response that redirects to the CDN. Relative
  // redirects (a renamed repository) are followed, as huggingface_hub does.
  Response head(std::string url) {
    for (int hops = 0; hops < 10; hops++) {
      Response r;
      setup(url, r);
      curl_easy_setopt(curl_, CURLOPT_NOBODY, 1L);
      curl_easy_setopt(curl_, CURLOPT_FOLLOWLOCATION, 0L);
      perform(url);
      curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
      const std::string location = r.header("location");
      if (r.status < 300 || r.status >= 400 || !location.starts_with("/")) return r;
      url = origin(url) + location;
    }
    throw Error(url + ": too many redirects");
  }

  // GET into `fd` (which holds `offset` bytes already), asking for the rest with a Range.
  // Returns the final response; a transfer cut short reports how far it got via `sink.written`.
  Response get(const std::string& url, Sink& sink, CURLcode& code, std::string& message) {
    Response r;
    setup(url, r);
    sink.curl = curl_;
    sink.response = &r;
    curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(curl_, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl_, CURLOPT_MAXREDIRS, 10L);
    const std::string range = std::to_string(sink.offset) + "-";
    curl_easy_setopt(curl_, CURLOPT_RANGE, sink.offset > 0 ? range.c_str() : nullptr);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(curl_, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl_, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl_, CURLOPT_XFERINFODATA, &sink);
    code = curl_easy_perform(curl_);
    message = code == CURLE_OK ? "" : error_text(code);
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
    return r;
  }

 private:
  static std::string origin(const std::string& url) {
    const auto scheme = url.find("://");
    const auto path = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    return url.substr(0, path);
  }

  std::string error_text(CURLcode code) const {
    return errbuf_[0] ? std::string(errbuf_.data()) : curl_easy_strerror(code);
  }

  void setup(const std::string& url, Response& r) {
    curl_easy_reset(curl_);
    errbuf_[0] = '\0';
    curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, errbuf_.data());
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl_, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl_, CURLOPT_USERAGENT, "simtune/0.1.0");
    // libcurl sends custom headers such as Authorization only to the host that was asked, not
    // to the CDN a redirect leads to, which is what the hub expects.
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, auth_);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT, 10L);
    // A stalled transfer (under 1 byte/s for 30 s) fails and is resumed, rather than hanging.
    curl_easy_setopt(curl_, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl_, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
  }

  void perform(const std::string& url) {
    const CURLcode code = curl_easy_perform(curl_);
    if (code != CURLE_OK) throw Unreachable{url + ": " + error_text(code)};
  }

  CURL* curl_ = nullptr;
  curl_slist* auth_ = nullptr;
  std::array<char, CURL_ERROR_SIZE> errbuf_{};
};

// huggingface_hub's per-blob lock file (.locks/<repo folder>/<etag>.lock, flock'ed), so Python
// and simtune downloading the same blob at once do not write one .incomplete file together.
class BlobLock {
 public:
  explicit BlobLock(const fs::path& path) {
    fs::create_directories(path.parent_path());
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0 || ::flock(fd_, LOCK_EX) != 0) {
      throw Error(path.string() + ": cannot lock the download: check the cache's permissions");
    }
  }
  ~BlobLock() { ::close(fd_); }
  BlobLock(const BlobLock&) = delete;
  BlobLock& operator=(const BlobLock&) = delete;

 private:
  int fd_ = -1;
};

std::string sha256_file(const fs::path& path) {
  const MappedFile file(path);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), file.bytes().data(), file.bytes().size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), digest.data(), &length) != 1) {
    throw Error(path.string() + ": OpenSSL could not compute its sha256");
  }
  std::string hex;
  for (unsigned int i = 0; i < length; i++) {
    char buf[3];
    std::snprintf(buf, sizeof buf, "%02x", digest[i]);
    hex += buf;
  }
  return hex;
}

std::string url_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// Downloads one repository's sentence-transformers files into the cache, all from one commit.
class Fetcher {
 public:
  Fetcher(const HubSettings& settings, const HubId& id)
      : s_(settings), id_(id), repo_dir_(s_.cache_dir / repo_folder_name(id.repo)), http_(s_) {}

  fs::path run() {
    fetch("modules.json", false);
    fetch("config_sentence_transformers.json", false);
    const std::vector<ModuleEntry> modules =
        commit_.empty() ? std::vector<ModuleEntry>{} : snapshot_modules(snapshot());
    for (const std::string& dir : transformer_dirs(modules)) {
      for (const char* file : {"config.json", "sentence_bert_config.json", "tokenizer.json",
                               "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"}) {
        fetch(join(dir, file), false);
      }
      fetch_weights(dir);
    }
    for (const ModuleEntry& m : modules) {
      if (!m.path.empty() && m.kind != ModuleKind::Transformer) {
        fetch(join(m.path, "config.json"), false);
      }
      if (m.kind == ModuleKind::Dense) fetch_weights(m.path);
    }
    if (id_.revision != commit_) {
      const fs::path ref = confined(repo_dir_ / "refs", id_.revision, "revision");
      fs::create_directories(ref.parent_path());
      write_file_atomic(ref, commit_);
    }
    return snapshot();
  }

 private:
  fs::path snapshot() const { return repo_dir_ / "snapshots" / commit_; }

  // X-Repo-Commit names a directory in the cache, so only a commit id is accepted ("" if absent).
  static std::string served_commit(const Response& r, const std::string& u) {
    std::string commit = r.header("x-repo-commit");
    if (!commit.empty() && !valid_commit(commit)) {
      throw Error(u + ": the server sent X-Repo-Commit \"" + commit +
                  "\", which is not a commit id (40 hex digits)");
    }
    return commit;
  }

  std::string url(const std::string& file) const {
    return s_.endpoint + "/" + id_.repo + "/resolve/" +
           url_escape(commit_.empty() ? id_.revision : commit_) + "/" + file;
  }

  // The first weight layout the repository has, in Weights::open's order: model.safetensors,
  // else the shard index and every shard it names, else pytorch_model.bin.
  void fetch_weights(const std::string& dir) {
    if (fetch(join(dir, kSafetensorsFile), false)) return;
    if (fetch(join(dir, kShardIndexFile), false)) {
      for (const std::string& shard :
           read_shard_index(snapshot() / join(dir, kShardIndexFile)).shards) {
        if (!fetch(join(dir, shard), true)) {
          throw Error(url(join(dir, shard)) + ": not found, though " + kShardIndexFile +
                      " names it as a shard");
        }
      }
      return;
    }
    if (fetch(join(dir, kTorchBinFile), false)) return;
    throw Error(url(join(dir, kSafetensorsFile)) + ": not found, nor " + kShardIndexFile + " or " +
                kTorchBinFile + ": the repository has no weights simtune reads");
  }

  // True once `file` is in the snapshot; false when the hub says the repository lacks it.
  bool fetch(const std::string& file, bool required) {
    if (!safe_relative(file)) {
      throw Error(id_.repo + ": module path in \"" + file + "\" leaves the model directory");
    }
    const std::string u = url(file);
    const Response r = http_.head(u);
    const std::string error_code = r.header("x-error-code");
    if (r.status == 401 || r.status == 403) {
      throw Error(u + ": HTTP " + std::to_string(r.status) +
                  (s_.token.empty() ? ": the repository is private, gated or does not exist: "
                                      "check the id, and set HF_TOKEN for a private model"
                                    : ": the token in HF_TOKEN was refused for this repository, "
                                      "or it does not exist: check the id and the token"));
    }
    if (r.status == 404 && (error_code.empty() || error_code == "EntryNotFound")) {
      if (commit_.empty()) commit_ = served_commit(r, u);
      if (!commit_.empty() && !required) {
        // huggingface_hub remembers missing files the same way, so offline lookups skip them.
        const fs::path marker = confined(repo_dir_ / ".no_exist" / commit_, file, "file");
        fs::create_directories(marker.parent_path());
        write_file_atomic(marker, "");
      }
      return false;
    }
    if (r.status >= 400) {
      throw Error(u + ": HTTP " + std::to_string(r.status) +
                  (error_code.empty() ? "" : " (" + error_code + ")") +
                  ": check the model id and revision \"" + id_.revision + "\"");
    }
    const std::string commit = served_commit(r, u);
    std::string etag = r.header("x-linked-etag");
    if (etag.empty()) etag = r.header("etag");
    etag = normalize_etag(etag);
    if (commit.empty() || etag.empty()) {
      throw Error(u + ": the answer lacks X-Repo-Commit or ETag headers: is HF_ENDPOINT (" +
                  s_.endpoint + ") a Hugging Face hub?");
    }
    if (!valid_blob_name(etag)) {
      throw Error(u + ": the server sent ETag \"" + etag +
                  "\", which is not a blob name (letters, digits, '-', '_', '.')");
    }
    if (!commit_.empty() && commit != commit_) {
      throw Error(u + ": served commit " + commit + " while other files came from " + commit_ +
                  ": the repository changed during the download; run again");
    }
    commit_ = commit;
    std::string size_header = r.header("x-linked-size");
    if (size_header.empty()) size_header = r.header("content-length");
    std::int64_t size = -1;
    if (!size_header.empty()) {
      const auto [end, ec] =
          std::from_chars(size_header.data(), size_header.data() + size_header.size(), size);
      if (ec != std::errc() || end != size_header.data() + size_header.size() || size < 0) {
        throw Error(u + ": the size header \"" + size_header + "\" is not a byte count");
      }
    }

    const fs::path blob = repo_dir_ / "blobs" / etag;
    std::error_code ec;
    if (!fs::exists(blob, ec)) download(url(file), file, blob, etag, size);
    link_snapshot_file(repo_dir_, commit_, file, etag);
    return true;
  }

  void download(const std::string& u, const std::string& file, const fs::path& blob,
                const std::string& etag, std::int64_t size) {
    fs::create_directories(blob.parent_path());
    const BlobLock lock(s_.cache_dir / ".locks" / repo_folder_name(id_.repo) / (etag + ".lock"));
    std::error_code ec;
    if (fs::exists(blob, ec)) return;  // another process finished it while we waited
    const fs::path incomplete = blob.string() + ".incomplete";
    // Resumes continue while each attempt brings new bytes, as huggingface_hub's http_get does.
    for (int attempt = 0;; attempt++) {
      const int fd = ::open(incomplete.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0)
        throw Error(incomplete.string() + ": cannot write: check the cache's permissions");
      Sink sink;
      sink.fd = fd;
      sink.offset = ::lseek(fd, 0, SEEK_END);
      if (size >= 0 && sink.offset > size) {
        sink.offset = ::ftruncate(fd, 0) == 0 ? ::lseek(fd, 0, SEEK_SET) : -1;
      }
      if (sink.offset < 0 || (size >= 0 && sink.offset == size)) {
        ::close(fd);
        if (sink.offset < 0) throw Error(incomplete.string() + ": cannot write");
        break;
      }
      sink.show = s_.progress && ::isatty(STDERR_FILENO);
      sink.name = file;
      sink.total = size;
      sink.start = std::chrono::steady_clock::now();
      CURLcode code = CURLE_OK;
      std::string message;
      const Response r = http_.get(u, sink, code, message);
      const bool closed = ::close(fd) == 0;
      if (sink.show) {
        sink.last_draw = {};  // the final state is drawn however soon it came
        on_progress(&sink, 0, 0, 0, 0);
        std::fputc('\n', stderr);
      }
      if (sink.write_failed || !closed) {
        throw Error(incomplete.string() + ": write failed (disk full?): free space and run again");
      }
      if (!sink.range_error.empty()) {
        fs::remove(incomplete);
        throw Error(u + ": " + sink.range_error + "; the partial download was deleted, run again");
      }
      if (code != CURLE_OK) {
        if (sink.written > 0 && attempt < 20) continue;
        if (sink.offset + sink.written == 0) throw Unreachable{u + ": " + message};
        throw Error(u + ": download interrupted after " +
                    std::to_string(sink.offset + sink.written) + " bytes (" + message +
                    "): run again to resume it");
      }
      if (r.status != 200 && r.status != 206) {
        throw Error(u + ": HTTP " + std::to_string(r.status) + " while downloading");
      }
      break;
    }
    const std::int64_t got = static_cast<std::int64_t>(fs::file_size(incomplete));
    if (size >= 0 && got != size) {
      fs::remove(incomplete);
      throw Error(u + ": received " + std::to_string(got) + " bytes, expected " +
                  std::to_string(size) + "; the partial download was deleted, run again");
    }
    // LFS files are named by their sha256; other etags are git object ids of the text files.
    if (is_hex(etag, 64)) {
      const std::string actual = sha256_file(incomplete);
      if (actual != etag) {
        fs::remove(incomplete);
        throw Error(u + ": sha256 " + actual + " does not match the hub's " + etag +
                    ": the download is corrupt and was deleted; run again, and check "
                    "HF_ENDPOINT or your proxy if it happens again");
      }
    }
    fs::rename(incomplete, blob);
  }

  const HubSettings& s_;
  const HubId& id_;
  fs::path repo_dir_;
  Http http_;
  std::string commit_;
};

}  // namespace
}  // namespace hub

fs::path resolve_model(const std::string& name_or_path, const HubOptions& options) {
  std::error_code ec;
  if (fs::is_directory(name_or_path, ec)) return name_or_path;
  const std::optional<hub::HubId> id = hub::parse_hub_id(name_or_path);
  if (!id) return name_or_path;

  const hub::HubSettings s = hub::resolve_settings(options);
  const fs::path repo_dir = s.cache_dir / hub::repo_folder_name(id->repo);
  const auto cached = [&]() -> std::optional<fs::path> {
    const auto snapshot = hub::cached_snapshot(repo_dir, id->revision);
    if (snapshot && hub::snapshot_complete(*snapshot)) return snapshot;
    return std::nullopt;
  };
  const std::string what =
      "\"" + name_or_path + "\" (no such local directory, so read as a " + "Hugging Face hub id)";
  if (s.offline) {
    if (const auto snapshot = cached()) return *snapshot;
    throw Error(what + " is not in the cache " + repo_dir.string() +
                " and HF_HUB_OFFLINE is set: unset HF_HUB_OFFLINE to download it, or pass a "
                "local model directory");
  }
  try {
    return hub::Fetcher(s, *id).run();
  } catch (const hub::Unreachable& e) {
    if (const auto snapshot = cached()) {
      std::fprintf(stderr, "simtune: %s unreachable, using the cached %s\n", s.endpoint.c_str(),
                   snapshot->c_str());
      return *snapshot;
    }
    throw Error("cannot reach the Hugging Face hub for " + what + " (" + e.message +
                ") and the cache " + s.cache_dir.string() +
                " does not hold it: check the network or HF_ENDPOINT, or pass a local model "
                "directory (`simtune init` makes a randomly initialised one)");
  }
}

}  // namespace simtune

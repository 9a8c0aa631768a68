#include "simtune/io/weights.h"

#include <set>
#include <unordered_map>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

#include "io/float_convert.h"
#include "io/torch_checkpoint.h"
#include "io/weight_files.h"
#include "simtune/core/error.h"
#include "simtune/core/file.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;
using Part = std::variant<SafetensorsFile, TorchCheckpoint>;

std::string shape_text(const std::vector<std::int64_t>& shape) {
  return nlohmann::json(shape).dump();
}

// Plain file names only: an index (possibly downloaded) must not reach outside its directory.
bool plain_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\\') == std::string::npos && name.find('\0') == std::string::npos;
}

Part open_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw Error(path.string() + ": no such file");
  if (path.extension() == ".safetensors") return SafetensorsFile::open(path);
  return TorchCheckpoint::open(path);
}

}  // namespace

ShardIndex read_shard_index(const fs::path& path) {
  const std::string origin = path.string();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(origin + ": not valid JSON: " + e.what());
  }
  const auto map = j.is_object() ? j.find("weight_map") : j.end();
  if (map == j.end() || !map->is_object() || map->empty()) {
    throw Error(origin + ": expected a \"weight_map\" object naming each tensor's shard");
  }
  ShardIndex index;
  std::set<std::string> shards;
  for (const auto& [name, shard] : map->items()) {
    if (!shard.is_string() || !plain_file_name(shard.get<std::string>())) {
      throw Error(origin + ": weight_map entry for \"" + name + "\" is " + shard.dump() +
                  ", expected the file name of a shard beside the index");
    }
    index.weight_map.emplace(name, shard.get<std::string>());
    shards.insert(shard.get<std::string>());
  }
  index.shards.assign(shards.begin(), shards.end());
  return index;
}

struct Weights::Impl {
  std::string origin;
  std::vector<Part> parts;
  // Every tensor of every part; a name in two parts is refused.
  std::unordered_map<std::string, std::pair<std::size_t, const TensorInfo*>> index;

  void add(Part part) {
    parts.push_back(std::move(part));
    const std::size_t p = parts.size() - 1;
    std::visit(
        [&](const auto& file) {
          for (const TensorInfo& t : file.tensors()) {
            const auto [it, fresh] = index.emplace(t.name, std::make_pair(p, &t));
            if (!fresh) {
              throw Error(file.origin() + ": tensor \"" + t.name + "\" is also in " +
                          part_origin(it->second.first));
            }
          }
        },
        parts[p]);
  }

  const std::string& part_origin(std::size_t p) const {
    return std::visit([](const auto& file) -> const std::string& { return file.origin(); },
                      parts[p]);
  }

  void add_shards(const fs::path& index_path) {
    const ShardIndex shards = read_shard_index(index_path);
    for (const std::string& shard : shards.shards) {
      const fs::path path = index_path.parent_path() / shard;
      std::error_code ec;
      if (!fs::is_regular_file(path, ec)) {
        throw Error(index_path.string() + ": shard " + shard + " is missing");
      }
      add(SafetensorsFile::open(path));
    }
    for (const auto& [name, shard] : shards.weight_map) {
      const auto it = index.find(name);
      if (it == index.end() ||
          part_origin(it->second.first) != (index_path.parent_path() / shard).string()) {
        throw Error(index_path.string() + ": tensor \"" + name + "\" is mapped to " + shard +
                    ", which does not hold it");
      }
    }
  }
};

Weights::Weights(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Weights::~Weights() = default;
Weights::Weights(Weights&&) noexcept = default;
Weights& Weights::operator=(Weights&&) noexcept = default;

Weights Weights::open(const fs::path& path) {
  auto impl = std::make_unique<Impl>();
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    impl->origin = path.string();
    if (path.filename() == kShardIndexFile) {
      impl->add_shards(path);
    } else {
      impl->add(open_file(path));
    }
    return Weights(std::move(impl));
  }
  // transformers' order of preference when a directory holds several formats.
  for (const char* name : {kSafetensorsFile, kShardIndexFile, kTorchBinFile}) {
    if (fs::is_regular_file(path / name, ec)) return open(path / name);
  }
  throw Error(path.string() + ": no weights (expected " + kSafetensorsFile + ", " +
              kShardIndexFile + " or " + kTorchBinFile + ")");
}

const TensorInfo* Weights::find(const std::string& name) const {
  const auto it = impl_->index.find(name);
  return it == impl_->index.end() ? nullptr : it->second.second;
}

const std::string& Weights::origin(const TensorInfo& tensor) const {
  const auto it = impl_->index.find(tensor.name);
  return it == impl_->index.end() ? impl_->origin : impl_->part_origin(it->second.first);
}

const std::string& Weights::origin() const {
  return impl_->origin;
}

void Weights::read_f32(const TensorInfo& tensor, float* out) const {
  const auto it = impl_->index.find(tensor.name);
  if (it == impl_->index.end()) throw Error(impl_->origin + ": no tensor \"" + tensor.name + "\"");
  std::visit([&](const auto& file) { file.read_f32(*it->second.second, out); },
             impl_->parts[it->second.first]);
}

std::vector<float> Weights::read_f32(const std::string& name,
                                     const std::vector<std::int64_t>& shape) const {
  const TensorInfo* t = find(name);
  if (t == nullptr) throw Error(impl_->origin + ": missing tensor \"" + name + "\"");
  if (!is_floating(t->dtype)) {
    throw Error(origin(*t) + ": tensor \"" + name + "\" has dtype " + dtype_name(t->dtype) +
                ", expected a floating dtype");
  }
  if (t->shape != shape) {
    throw Error(origin(*t) + ": tensor \"" + name + "\" has shape " + shape_text(t->shape) +
                ", expected " + shape_text(shape));
  }
  std::vector<float> out(static_cast<std::size_t>(t->numel()));
  read_f32(*t, out.data());
  return out;
}

}  // namespace simtune

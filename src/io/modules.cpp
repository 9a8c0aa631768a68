#include "simtune/io/modules.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "simtune/core/error.h"
#include "simtune/core/file.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct ModuleType {
  ModuleKind kind;
  const char* short_name;
  const char* type;          // the 2.x-5.x name, which simtune writes
  const char* new_types[2];  // the names 6.x writes (null where there is one)
};

constexpr ModuleType kModuleTypes[] = {
    {ModuleKind::Transformer,
     "Transformer",
     "sentence_transformers.models.Transformer",
     {"sentence_transformers.base.modules.transformer.Transformer", nullptr}},
    {ModuleKind::Pooling,
     "Pooling",
     "sentence_transformers.models.Pooling",
     {"sentence_transformers.sentence_transformer.modules.pooling.Pooling", nullptr}},
    {ModuleKind::Dense,
     "Dense",
     "sentence_transformers.models.Dense",
     {"sentence_transformers.base.modules.dense.Dense", nullptr}},
    {ModuleKind::Normalize,
     "Normalize",
     "sentence_transformers.models.Normalize",
     {"sentence_transformers.base.modules.normalize.Normalize",
      "sentence_transformers.sentence_transformer.modules.normalize.Normalize"}},
};

const ModuleType& row(ModuleKind kind) {
  return *std::find_if(std::begin(kModuleTypes), std::end(kModuleTypes),
                       [&](const ModuleType& t) { return t.kind == kind; });
}

std::string string_field(const json& entry, const char* key, const std::string& origin) {
  const auto it = entry.find(key);
  if (it == entry.end()) return "";
  if (!it->is_string()) {
    throw Error(origin + ": field \"" + key + "\" is " + it->dump() + ", expected a string");
  }
  return it->get<std::string>();
}

}  // namespace

std::optional<ModuleKind> module_kind(std::string_view type) {
  for (const ModuleType& t : kModuleTypes) {
    if (type == t.type) return t.kind;
    for (const char* name : t.new_types) {
      if (name != nullptr && type == name) return t.kind;
    }
  }
  return std::nullopt;
}

const char* module_type_name(ModuleKind kind) {
  return row(kind).type;
}

const char* module_kind_name(ModuleKind kind) {
  return row(kind).short_name;
}

std::vector<ModuleEntry> read_modules(const fs::path& modules_json) {
  const std::string origin = modules_json.string();
  json j;
  try {
    j = json::parse(read_file(modules_json));
  } catch (const json::exception& e) {
    throw Error(origin + ": not valid JSON: " + e.what());
  }
  if (!j.is_array()) throw Error(origin + ": expected a JSON array of modules");
  std::vector<ModuleEntry> modules;
  for (const json& m : j) {
    if (!m.is_object()) throw Error(origin + ": module entry " + m.dump() + " is not an object");
    if (m.find("type") == m.end()) throw Error(origin + ": module entry without \"type\"");
    ModuleEntry e{string_field(m, "type", origin), string_field(m, "path", origin), std::nullopt};
    const fs::path rel(e.path);
    if (rel.is_absolute() || std::find(rel.begin(), rel.end(), "..") != rel.end()) {
      throw Error(origin + ": module path \"" + e.path + "\" must stay inside the model directory");
    }
    e.kind = module_kind(e.type);
    modules.push_back(std::move(e));
  }
  return modules;
}

fs::path module_dir(const fs::path& dir, const ModuleEntry& entry) {
  return entry.path.empty() ? dir : dir / entry.path;
}

}  // namespace simtune

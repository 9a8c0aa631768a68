// modules.json, the module pipeline of a sentence-transformers directory: the one reader of that
// file (the loader and the hub download both use it) and the one table of module types simtune
// knows, under every name sentence-transformers has written for it (2.x-5.x wrote
// "sentence_transformers.models.Pooling", 6.x writes
// "sentence_transformers.sentence_transformer.modules.pooling.Pooling"). A new module type is one
// row in that table plus its reader in model_files.cpp.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace simtune {

enum class ModuleKind { Transformer, Pooling, Dense, Normalize };

struct ModuleEntry {
  std::string type;                // as written, e.g. "sentence_transformers.models.Pooling"
  std::string path;                // relative to the model directory; "" for the directory itself
  std::optional<ModuleKind> kind;  // empty for a type simtune does not run
};

// The kind a module type name stands for; empty when simtune does not know it.
std::optional<ModuleKind> module_kind(std::string_view type);
// The type name simtune writes for a kind: the 2.x-5.x name, which every library version reads.
const char* module_type_name(ModuleKind kind);
// "Transformer", "Pooling", ...: for messages.
const char* module_kind_name(ModuleKind kind);

// Reads modules.json. Throws Error naming the file for invalid JSON, an entry that is not an
// object or has no "type", or a path that leaves the directory (absolute, or with "..").
// Unknown types are kept (kind empty): the caller decides whether it can run them.
std::vector<ModuleEntry> read_modules(const std::filesystem::path& modules_json);

// dir / entry.path.
std::filesystem::path module_dir(const std::filesystem::path& dir, const ModuleEntry& entry);

}  // namespace simtune

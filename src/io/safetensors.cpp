#include "simtune/io/safetensors.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>

#include <nlohmann/json.hpp>

#include "io/float_convert.h"
#include "simtune/core/check.h"
#include "simtune/core/error.h"
#include "simtune/core/file.h"
#include "simtune/core/json_integer.h"

namespace simtune {
namespace {

using nlohmann::json;

// The reference implementation refuses headers over 100 MB so that a hostile length cannot make
// it parse (or allocate) without bound; we use the same limit.
constexpr std::uint64_t kMaxHeaderSize = 100'000'000;

struct DTypeName {
  const char* name;
  DType dtype;
  std::size_t size;
};

constexpr DTypeName kDTypes[] = {
    {"F64", DType::F64, 8},   {"F32", DType::F32, 4}, {"F16", DType::F16, 2},
    {"BF16", DType::BF16, 2}, {"I64", DType::I64, 8}, {"I32", DType::I32, 4},
    {"I16", DType::I16, 2},   {"I8", DType::I8, 1},   {"U8", DType::U8, 1},
    {"BOOL", DType::BOOL, 1},
};

std::optional<DType> dtype_from_name(const std::string& name) {
  for (const DTypeName& d : kDTypes) {
    if (name == d.name) return d.dtype;
  }
  return std::nullopt;
}

std::string in_quotes(const std::string& s) {
  return "\"" + s + "\"";
}

// A JSON value from an untrusted header, for an error message: dump() recurses, so nested values
// (which could be nested a million deep) are only named, and long scalars are cut.
std::string describe(const json& v) {
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  std::string s = v.dump();
  if (s.size() > 40) s = s.substr(0, 40) + "...";
  return s;
}

}  // namespace

const char* dtype_name(DType dtype) {
  for (const DTypeName& d : kDTypes) {
    if (d.dtype == dtype) return d.name;
  }
  SIMTUNE_CHECK(false);
  return "";
}

std::size_t dtype_size(DType dtype) {
  for (const DTypeName& d : kDTypes) {
    if (d.dtype == dtype) return d.size;
  }
  SIMTUNE_CHECK(false);
  return 0;
}

std::int64_t TensorInfo::numel() const {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

struct SafetensorsFile::Impl {
  std::optional<MappedFile> mapping;   // set by open(); parse() borrows the caller's bytes
  std::span<const std::uint8_t> data;  // the byte buffer after the header
  std::string origin;
  std::vector<TensorInfo> tensors;  // sorted by name
  std::unordered_map<std::string, std::size_t> index;
  std::map<std::string, std::string> metadata;
};

SafetensorsFile::SafetensorsFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SafetensorsFile::~SafetensorsFile() = default;
SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error(path.string() + ": no such file");
  MappedFile mapping(path);
  SafetensorsFile file = parse(mapping.bytes(), path.string());
  // The mapping object owns the pages; moving it keeps the same address range valid.
  file.impl_->mapping.emplace(std::move(mapping));
  return file;
}

namespace {

Error file_error(const std::string& origin, const std::string& what) {
  return Error(origin + ": " + what);
}

Error tensor_error(const std::string& origin, const std::string& name, const std::string& what) {
  return Error(origin + ": tensor " + in_quotes(name) + ": " + what);
}

// The little-endian u64 that starts the file (at least 8 bytes long).
std::uint64_t header_length(std::span<const std::uint8_t> bytes) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[static_cast<std::size_t>(i)];
  return n;
}

// The JSON header after the 8-byte length: an object, without duplicate keys.
json parse_header(std::span<const std::uint8_t> bytes, const std::string& origin) {
  auto fail = [&](const std::string& what) { return file_error(origin, what); };
  if (bytes.size() < 8) {
    throw fail("file is " + std::to_string(bytes.size()) +
               " bytes, shorter than the 8-byte header length");
  }
  const std::uint64_t header_size = header_length(bytes);
  if (header_size > kMaxHeaderSize) {
    throw fail("header length " + std::to_string(header_size) + " exceeds the " +
               std::to_string(kMaxHeaderSize) + "-byte limit");
  }
  if (header_size > bytes.size() - 8) {
    throw fail("header length " + std::to_string(header_size) + " runs past the end of the file (" +
               std::to_string(bytes.size()) + " bytes)");
  }
  const char* header_begin = reinterpret_cast<const char*>(bytes.data() + 8);
  const char* header_end = header_begin + header_size;
  if (header_size == 0 || *header_begin != '{') {
    throw fail("header does not start with '{'");
  }

  // nlohmann keeps the last of duplicate keys silently; the format forbids duplicates, and a
  // hidden one could alias another tensor's bytes, so the parse callback records them.
  std::string duplicate;
  std::set<std::string> top_keys;
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && duplicate.empty()) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!top_keys.insert(key).second) duplicate = key;
    }
    return true;
  };
  json header;
  try {
    header = json::parse(header_begin, header_end, callback);
  } catch (const json::exception& e) {
    throw fail(std::string("header is not valid JSON: ") + e.what());
  }
  if (!duplicate.empty()) throw fail("header has duplicate key " + in_quotes(duplicate));
  if (!header.is_object()) throw fail("header is not a JSON object");

  return header;
}

// One tensor's entry, checked against the data buffer's size.
TensorInfo parse_tensor_entry(const std::string& name, const json& entry, std::uint64_t data_size,
                              const std::string& origin) {
  auto fail_tensor = [&](const std::string& n, const std::string& what) {
    return tensor_error(origin, n, what);
  };
  if (!entry.is_object()) throw fail_tensor(name, "entry is not an object");
  TensorInfo info;
  info.name = name;

  const auto dtype_it = entry.find("dtype");
  if (dtype_it == entry.end() || !dtype_it->is_string()) {
    throw fail_tensor(name, "missing string field \"dtype\"");
  }
  const std::string dtype_str = dtype_it->get<std::string>();
  const std::optional<DType> dtype = dtype_from_name(dtype_str);
  if (!dtype) {
    throw fail_tensor(name, "unsupported dtype " + in_quotes(dtype_str) +
                                " (expected F64, F32, F16, BF16, I64, I32, I16, I8, U8 or BOOL)");
  }
  info.dtype = *dtype;

  const auto shape_it = entry.find("shape");
  if (shape_it == entry.end() || !shape_it->is_array()) {
    throw fail_tensor(name, "missing array field \"shape\"");
  }
  // Every running product of the dims (the order TensorInfo::numel() multiplies in) and the
  // byte size must fit in int64, so no later arithmetic on an accepted shape can overflow.
  constexpr std::uint64_t kMax = std::numeric_limits<std::int64_t>::max();
  std::uint64_t numel = 1;
  for (const json& dim : *shape_it) {
    const std::optional<std::uint64_t> d = json_integer<std::uint64_t>(dim);
    if (!d) {
      throw fail_tensor(name, "shape entry " + describe(dim) + " is not a non-negative integer");
    }
    if (*d > kMax || (*d != 0 && numel > kMax / *d)) {
      throw fail_tensor(name, "shape overflows 64 bits at entry " + std::to_string(*d));
    }
    numel *= *d;
    info.shape.push_back(static_cast<std::int64_t>(*d));
  }
  if (numel > kMax / dtype_size(info.dtype)) {
    throw fail_tensor(name, "shape " + shape_it->dump() + " overflows 64 bits");
  }
  const std::uint64_t nbytes = numel * dtype_size(info.dtype);

  const auto offsets_it = entry.find("data_offsets");
  if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2) {
    throw fail_tensor(name, "missing field \"data_offsets\" [begin, end]");
  }
  const std::optional<std::uint64_t> begin = json_integer<std::uint64_t>((*offsets_it)[0]);
  const std::optional<std::uint64_t> end = json_integer<std::uint64_t>((*offsets_it)[1]);
  if (!begin || !end) {
    throw fail_tensor(name, "data_offsets [" + describe((*offsets_it)[0]) + ", " +
                                describe((*offsets_it)[1]) + "] are not non-negative integers");
  }
  if (*begin > *end) {
    throw fail_tensor(name, "data_offsets " + offsets_it->dump() + " have begin > end");
  }
  if (*end > data_size) {
    throw fail_tensor(name, "data_offsets " + offsets_it->dump() + " run past the " +
                                std::to_string(data_size) + "-byte data buffer");
  }
  if (*end - *begin != nbytes) {
    throw fail_tensor(name, "data_offsets " + offsets_it->dump() + " span " +
                                std::to_string(*end - *begin) + " bytes but " + dtype_str +
                                " shape " + shape_it->dump() + " needs " + std::to_string(nbytes));
  }
  info.begin = static_cast<std::size_t>(*begin);
  info.end = static_cast<std::size_t>(*end);
  return info;
}

// The spec requires the tensors to tile the buffer: no overlap (each byte belongs to one tensor)
// and no gaps or trailing bytes (the reference reader rejects both).
void check_tiling(const std::vector<TensorInfo>& tensors, std::uint64_t data_size,
                  const std::string& origin) {
  auto fail = [&](const std::string& what) { return file_error(origin, what); };
  auto fail_tensor = [&](const std::string& n, const std::string& what) {
    return tensor_error(origin, n, what);
  };
  std::vector<const TensorInfo*> by_offset;
  for (const TensorInfo& t : tensors) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  std::size_t covered = 0;
  const TensorInfo* previous = nullptr;
  for (const TensorInfo* t : by_offset) {
    if (t->begin < covered) {
      throw fail_tensor(t->name, "bytes [" + std::to_string(t->begin) + ", " +
                                     std::to_string(t->end) + ") overlap tensor " +
                                     in_quotes(previous->name));
    }
    if (t->begin > covered) {
      throw fail_tensor(t->name, "leaves a gap: it starts at byte " + std::to_string(t->begin) +
                                     " but the previous tensor ends at " + std::to_string(covered));
    }
    covered = t->end;
    previous = t;
  }
  if (covered != data_size) {
    throw fail("data buffer is " + std::to_string(data_size) + " bytes but the tensors cover " +
               std::to_string(covered));
  }
}

}  // namespace

SafetensorsFile SafetensorsFile::parse(std::span<const std::uint8_t> bytes,
                                       const std::string& origin) {
  auto fail = [&](const std::string& what) { return file_error(origin, what); };
  const json header = parse_header(bytes, origin);
  const std::uint64_t header_size = header_length(bytes);
  auto impl = std::make_unique<Impl>();
  impl->origin = origin;
  impl->data = bytes.subspan(8 + header_size);
  const std::uint64_t data_size = impl->data.size();

  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw fail("__metadata__ is not an object of strings");
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) {
          throw fail("__metadata__ value for " + in_quotes(key) + " is not a string");
        }
        impl->metadata.emplace(key, value.get<std::string>());
      }
      continue;
    }
    impl->tensors.push_back(parse_tensor_entry(name, entry, data_size, origin));
  }
  check_tiling(impl->tensors, data_size, origin);
  for (std::size_t i = 0; i < impl->tensors.size(); ++i)
    impl->index.emplace(impl->tensors[i].name, i);
  return SafetensorsFile(std::move(impl));
}

const std::vector<TensorInfo>& SafetensorsFile::tensors() const {
  return impl_->tensors;
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = impl_->index.find(name);
  return it == impl_->index.end() ? nullptr : &impl_->tensors[it->second];
}

const std::map<std::string, std::string>& SafetensorsFile::metadata() const {
  return impl_->metadata;
}

const std::string& SafetensorsFile::origin() const {
  return impl_->origin;
}

void SafetensorsFile::read_f32(const TensorInfo& tensor, float* out) const {
  SIMTUNE_CHECK(tensor.end <= impl_->data.size() && tensor.begin <= tensor.end);
  if (!is_floating(tensor.dtype)) {
    throw Error(impl_->origin + ": tensor " + in_quotes(tensor.name) + " has dtype " +
                dtype_name(tensor.dtype) + ", expected a floating dtype (F32, F16, BF16, F64)");
  }
  convert_to_f32(tensor.dtype, impl_->data.data() + tensor.begin,
                 (tensor.end - tensor.begin) / dtype_size(tensor.dtype), out);
}

void save_safetensors(const std::filesystem::path& path, const std::vector<TensorRef>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<const TensorRef*> sorted;
  for (const TensorRef& t : tensors) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(),
            [](const TensorRef* a, const TensorRef* b) { return a->name < b->name; });

  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::size_t offset = 0;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const TensorRef& t = *sorted[i];
    SIMTUNE_CHECK(t.name != "__metadata__");
    SIMTUNE_CHECK(i == 0 || sorted[i - 1]->name != t.name);
    std::size_t numel = 1;
    for (std::int64_t d : t.shape) {
      SIMTUNE_CHECK(d >= 0);
      numel *= static_cast<std::size_t>(d);
    }
    const std::size_t nbytes = numel * sizeof(float);
    header[t.name] = {
        {"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string header_text = header.dump();
  // Padding the header with spaces to a multiple of 8 puts the buffer (and with it every F32
  // tensor) at an 8-aligned file offset, so readers can map the tensors in place.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  std::string length;
  const std::uint64_t n = header_text.size();
  for (int i = 0; i < 8; ++i) length.push_back(static_cast<char>((n >> (8 * i)) & 0xffu));
  // Tensors are written from where they live: no copy of the whole model in memory.
  std::vector<std::string_view> pieces = {length, header_text};
  for (const TensorRef* t : sorted) {
    std::size_t numel = 1;
    for (std::int64_t d : t->shape) numel *= static_cast<std::size_t>(d);
    pieces.emplace_back(reinterpret_cast<const char*>(t->data), numel * sizeof(float));
  }
  write_file_atomic(path, pieces);
}

}  // namespace simtune

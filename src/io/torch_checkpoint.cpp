#include "io/torch_checkpoint.h"

#include <zip.h>

#include <algorithm>
#include <limits>
#include <optional>
#include <unordered_map>
#include <utility>

#include "io/float_convert.h"
#include "io/torch_pickle.h"
#include "simtune/core/error.h"
#include "simtune/core/file.h"

namespace simtune {
namespace {

// data.pkl of a state dict is about a hundred bytes per tensor; the limit only stops a hostile
// archive from making us allocate without bound.
constexpr zip_uint64_t kMaxPickleSize = 64'000'000;

struct ZipFile {
  zip_file_t* file = nullptr;
  ~ZipFile() {
    if (file != nullptr) zip_fclose(file);
  }
};

}  // namespace

struct TorchCheckpoint::Impl {
  std::optional<MappedFile> mapping;  // set by open(); parse() borrows the caller's bytes
  zip_t* archive = nullptr;
  std::string origin;
  std::vector<TensorInfo> tensors;
  std::vector<zip_uint64_t> entries;  // each tensor's storage entry in the archive
  std::unordered_map<std::string, std::size_t> index;

  ~Impl() {
    if (archive != nullptr) zip_discard(archive);
  }

  [[noreturn]] void fail(const std::string& what) const { throw Error(origin + ": " + what); }

  // Reads n bytes of entry `entry` starting at byte `skip` into out.
  void read_entry(zip_uint64_t entry, zip_uint64_t skip, std::uint8_t* out, zip_uint64_t n,
                  const std::string& what) const {
    ZipFile f;
    f.file = zip_fopen_index(archive, entry, 0);
    if (f.file == nullptr) fail(what + ": " + zip_strerror(archive));
    std::vector<std::uint8_t> scratch(skip > 0 ? 65536 : 0);
    while (skip > 0) {
      const zip_int64_t got =
          zip_fread(f.file, scratch.data(), std::min<zip_uint64_t>(skip, 65536));
      if (got <= 0) fail(what + ": ends early");
      skip -= static_cast<zip_uint64_t>(got);
    }
    while (n > 0) {
      const zip_int64_t got = zip_fread(f.file, out, n);
      if (got < 0) fail(what + ": " + zip_file_strerror(f.file));
      if (got == 0) fail(what + ": ends early");
      out += got;
      n -= static_cast<zip_uint64_t>(got);
    }
  }

  zip_uint64_t entry_size(zip_uint64_t entry) const {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(archive, entry, 0, &st) != 0 || (st.valid & ZIP_STAT_SIZE) == 0) {
      fail(std::string("cannot read the archive's directory: ") + zip_strerror(archive));
    }
    return st.size;
  }

  std::string read_whole(zip_uint64_t entry, const std::string& name) const {
    const zip_uint64_t size = entry_size(entry);
    if (size > kMaxPickleSize) {
      fail(name + " is " + std::to_string(size) + " bytes, over the " +
           std::to_string(kMaxPickleSize) + "-byte limit");
    }
    std::string bytes(static_cast<std::size_t>(size), '\0');
    read_entry(entry, 0, reinterpret_cast<std::uint8_t*>(bytes.data()), size, name);
    return bytes;
  }

  // The archive's one "<prefix>/data.pkl" (the prefix is the name torch.save gave the archive).
  std::string find_prefix() const {
    std::optional<std::string> prefix;
    const zip_int64_t n = zip_get_num_entries(archive, 0);
    for (zip_int64_t i = 0; i < n; ++i) {
      const char* name = zip_get_name(archive, static_cast<zip_uint64_t>(i), 0);
      if (name == nullptr) continue;
      const std::string s = name;
      const auto slash = s.find('/');
      if (slash == std::string::npos || s.substr(slash) != "/data.pkl") continue;
      if (prefix) fail("the archive holds more than one data.pkl");
      prefix = s.substr(0, slash);
    }
    if (!prefix) fail("the archive has no <name>/data.pkl: not a PyTorch checkpoint");
    return *prefix;
  }
};

TorchCheckpoint::TorchCheckpoint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TorchCheckpoint::~TorchCheckpoint() = default;
TorchCheckpoint::TorchCheckpoint(TorchCheckpoint&&) noexcept = default;
TorchCheckpoint& TorchCheckpoint::operator=(TorchCheckpoint&&) noexcept = default;

TorchCheckpoint TorchCheckpoint::open(const std::filesystem::path& path) {
  MappedFile mapping(path);
  TorchCheckpoint file = parse(mapping.bytes(), path.string());
  // The mapping object owns the pages; moving it keeps the same address range valid.
  file.impl_->mapping.emplace(std::move(mapping));
  return file;
}

TorchCheckpoint TorchCheckpoint::parse(std::span<const std::uint8_t> bytes,
                                       const std::string& origin) {
  auto impl = std::make_unique<Impl>();
  impl->origin = origin;
  if (bytes.size() >= 2 && bytes[0] == 0x80 && bytes[1] <= 5) {
    impl->fail(
        "a PyTorch checkpoint in the legacy format (before PyTorch 1.6), which simtune does not "
        "read: re-save it with a newer torch.save, or convert it to model.safetensors");
  }
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  if (source != nullptr) impl->archive = zip_open_from_source(source, ZIP_RDONLY, &error);
  if (impl->archive == nullptr) {
    if (source != nullptr) zip_source_free(source);
    const std::string reason = zip_error_strerror(&error);
    zip_error_fini(&error);
    impl->fail("not a zip archive as torch.save writes (" + reason + ")");
  }
  zip_error_fini(&error);

  const std::string prefix = impl->find_prefix();
  const zip_int64_t order = zip_name_locate(impl->archive, (prefix + "/byteorder").c_str(), 0);
  if (order >= 0) {
    const std::string text = impl->read_whole(static_cast<zip_uint64_t>(order), "byteorder");
    if (text != "little") {
      impl->fail("byteorder is \"" + text.substr(0, 16) + "\"; only little-endian is read");
    }
  }
  const zip_int64_t pkl = zip_name_locate(impl->archive, (prefix + "/data.pkl").c_str(), 0);
  const std::string pickle = impl->read_whole(static_cast<zip_uint64_t>(pkl), "data.pkl");
  const std::vector<PickledTensor> records = read_torch_pickle(
      {reinterpret_cast<const std::uint8_t*>(pickle.data()), pickle.size()}, origin + ": data.pkl");

  std::unordered_map<std::string, DType> storage_dtypes;
  for (const PickledTensor& r : records) {
    auto fail_tensor = [&](const std::string& what) {
      impl->fail("tensor \"" + r.name + "\": " + what);
    };
    const std::string entry_name = prefix + "/data/" + r.storage;
    const zip_int64_t entry = zip_name_locate(impl->archive, entry_name.c_str(), 0);
    if (entry < 0) fail_tensor("its storage " + entry_name + " is not in the archive");
    const auto [it, fresh] = storage_dtypes.emplace(r.storage, r.dtype);
    if (!fresh && it->second != r.dtype) {
      fail_tensor("storage " + r.storage + " is read both as " + dtype_name(it->second) +
                  " and as " + dtype_name(r.dtype));
    }
    const std::size_t esize = dtype_size(r.dtype);
    const auto numel = static_cast<std::uint64_t>(r.storage_numel);
    if (numel > std::numeric_limits<std::uint64_t>::max() / esize ||
        impl->entry_size(static_cast<zip_uint64_t>(entry)) != numel * esize) {
      fail_tensor("storage " + entry_name + " is " +
                  std::to_string(impl->entry_size(static_cast<zip_uint64_t>(entry))) +
                  " bytes, but the pickle says " + std::to_string(r.storage_numel) + " " +
                  dtype_name(r.dtype) + " elements");
    }
    TensorInfo info;
    info.name = r.name;
    info.dtype = r.dtype;
    info.shape = r.shape;
    // offset + numel <= storage numel (checked by the pickle reader), so these fit.
    info.begin = static_cast<std::size_t>(r.offset) * esize;
    info.end = info.begin + static_cast<std::size_t>(info.numel()) * esize;
    if (!impl->index.emplace(r.name, impl->tensors.size()).second) {
      fail_tensor("appears twice");
    }
    impl->tensors.push_back(std::move(info));
    impl->entries.push_back(static_cast<zip_uint64_t>(entry));
  }
  return TorchCheckpoint(std::move(impl));
}

const std::vector<TensorInfo>& TorchCheckpoint::tensors() const {
  return impl_->tensors;
}

const TensorInfo* TorchCheckpoint::find(const std::string& name) const {
  const auto it = impl_->index.find(name);
  return it == impl_->index.end() ? nullptr : &impl_->tensors[it->second];
}

const std::string& TorchCheckpoint::origin() const {
  return impl_->origin;
}

void TorchCheckpoint::read_f32(const TensorInfo& tensor, float* out) const {
  const auto it = impl_->index.find(tensor.name);
  if (it == impl_->index.end()) impl_->fail("no tensor \"" + tensor.name + "\"");
  if (!is_floating(tensor.dtype)) {
    impl_->fail("tensor \"" + tensor.name + "\" has dtype " + dtype_name(tensor.dtype) +
                ", expected a floating dtype (F32, F16, BF16, F64)");
  }
  const std::string what = "tensor \"" + tensor.name + "\"";
  const zip_uint64_t entry = impl_->entries[it->second];
  const std::size_t nbytes = tensor.end - tensor.begin;
  const std::size_t n = nbytes / dtype_size(tensor.dtype);
  if (tensor.dtype == DType::F32) {
    impl_->read_entry(entry, tensor.begin, reinterpret_cast<std::uint8_t*>(out), nbytes, what);
    return;
  }
  std::vector<std::uint8_t> raw(nbytes);
  impl_->read_entry(entry, tensor.begin, raw.data(), nbytes, what);
  convert_to_f32(tensor.dtype, raw.data(), n, out);
}

}  // namespace simtune

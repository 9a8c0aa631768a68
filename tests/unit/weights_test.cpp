// Weights::open over every layout: one safetensors file, shards and their index, and PyTorch's
// zip archive (hand-built here to reach each refusal; torch.save's own files are checked in
// tests/python/test_weight_formats.py).
#include "simtune/io/weights.h"

#include <gtest/gtest.h>
#include <zip.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "io/torch_checkpoint.h"
#include "pickle_builder.h"
#include "simtune/core/error.h"
#include "simtune/core/file.h"
#include "temp_dir.h"
#include "test_errors.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;
using testing::error_of;
using testing::Pickle;
using testing::TempDir;

using Entries = std::vector<std::pair<std::string, std::string>>;

// A stored (uncompressed) zip archive, as torch.save writes.
void write_zip(const fs::path& path, const Entries& entries) {
  int error = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  ASSERT_NE(z, nullptr);
  for (const auto& [name, data] : entries) {
    zip_source_t* s = zip_source_buffer(z, data.data(), data.size(), 0);
    ASSERT_GE(zip_file_add(z, name.c_str(), s, ZIP_FL_OVERWRITE), 0);
  }
  ASSERT_EQ(zip_close(z), 0);
}

std::string floats(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// {"w": F32 (2, 3) at storage 0, "h": F16 (2) at storage 1, "ids": I64 (2) at storage 2}.
Entries checkpoint_entries() {
  Pickle p;
  p.ordered_dict().op('(');
  p.str("w").tensor({2, 3}, {3, 1}, 1, 7);
  p.str("h").tensor({2}, {1}, 0, 2, "HalfStorage", "1");
  p.str("ids").tensor({2}, {1}, 0, 2, "LongStorage", "2");
  p.op('u').op('.');
  const std::string half = std::string("\x00\x3c\x00\xc0", 4);  // 1.0, -2.0
  return {{"archive/data.pkl", p.s_},
          {"archive/data/0", floats({9, 1, 2, 3, 4, 5, 6})},
          {"archive/data/1", half},
          {"archive/data/2", std::string(16, '\0')},
          {"archive/version", "3\n"}};
}

TEST(TorchCheckpoint, ReadsTensorsAtTheirStorageOffsets) {
  TempDir dir;
  write_zip(dir.path() / "pytorch_model.bin", checkpoint_entries());
  const Weights w = Weights::open(dir.path());
  EXPECT_EQ(w.origin(), (dir.path() / "pytorch_model.bin").string());
  EXPECT_EQ(w.read_f32("w", {2, 3}), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(w.read_f32("h", {2}), (std::vector<float>{1, -2}));
  ASSERT_NE(w.find("ids"), nullptr);
  EXPECT_EQ(w.find("ids")->dtype, DType::I64);
  EXPECT_CONTAINS(error_of([&] { w.read_f32("ids", {2}); }), "\"ids\" has dtype I64");
  EXPECT_CONTAINS(error_of([&] {
                    w.read_f32("w", {3, 2});
                  }),
                  "\"w\" has shape [2,3], expected [3,2]");
  EXPECT_CONTAINS(error_of([&] { w.read_f32("nope", {1}); }), "missing tensor \"nope\"");
}

TEST(TorchCheckpoint, RefusesArchivesThatDoNotMatchTheirPickle) {
  TempDir dir;
  const fs::path bin = dir.path() / "m.bin";
  auto refusal = [&](Entries entries) {
    write_zip(bin, entries);
    return error_of([&] { TorchCheckpoint::open(bin); });
  };
  Entries e = checkpoint_entries();
  e.erase(e.begin() + 1);
  EXPECT_CONTAINS(refusal(e), bin.string() + ": tensor \"w\": its storage archive/data/0 is not");
  e = checkpoint_entries();
  e[1].second += "pad";
  EXPECT_CONTAINS(refusal(e), "archive/data/0 is 31 bytes, but the pickle says 7 F32 elements");
  e = checkpoint_entries();
  e.emplace_back("archive/byteorder", "big");
  EXPECT_CONTAINS(refusal(e), "byteorder is \"big\"");
  e = checkpoint_entries();
  e.emplace_back("other/data.pkl", "");
  EXPECT_CONTAINS(refusal(e), "more than one data.pkl");
  EXPECT_CONTAINS(refusal({{"archive/version", "3"}}), "no <name>/data.pkl");

  write_file_atomic(bin, "\x80\x02}q\x00.");
  EXPECT_CONTAINS(error_of([&] { TorchCheckpoint::open(bin); }), "legacy format");
  write_file_atomic(bin, "plain text");
  EXPECT_CONTAINS(error_of([&] { TorchCheckpoint::open(bin); }), bin.string() + ": not a zip");
}

// A safetensors file holding one F32 tensor `name` = [value].
void write_one(const fs::path& path, const std::string& name, float value) {
  save_safetensors(path, {{name, {1}, &value}});
}

TEST(Weights, PicksSafetensorsThenShardsThenTorchBin) {
  TempDir dir;
  write_file_atomic(dir.path() / "pytorch_model.bin", "not read");
  write_file_atomic(dir.path() / "model.safetensors.index.json", "not read either");
  write_one(dir.path() / "model.safetensors", "a", 1.5f);
  EXPECT_EQ(Weights::open(dir.path()).read_f32("a", {1}), std::vector<float>{1.5f});
  fs::remove(dir.path() / "model.safetensors");
  EXPECT_CONTAINS(error_of([&] { Weights::open(dir.path()); }),
                  "model.safetensors.index.json: not valid JSON");
  fs::remove(dir.path() / "model.safetensors.index.json");
  EXPECT_CONTAINS(error_of([&] { Weights::open(dir.path()); }), "pytorch_model.bin: not a zip");
  fs::remove(dir.path() / "pytorch_model.bin");
  EXPECT_CONTAINS(error_of([&] { Weights::open(dir.path()); }),
                  "no weights (expected model.safetensors, model.safetensors.index.json or "
                  "pytorch_model.bin)");
}

TEST(Weights, ReadsShardsAsTheIndexMapsThem) {
  TempDir dir;
  const fs::path index = dir.path() / "model.safetensors.index.json";
  write_one(dir.path() / "s1.safetensors", "a", 1.0f);
  write_one(dir.path() / "s2.safetensors", "b", 2.0f);
  write_file_atomic(
      index, R"({"metadata": {}, "weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}})");
  const Weights w = Weights::open(dir.path());
  EXPECT_EQ(w.read_f32("a", {1}), std::vector<float>{1.0f});
  EXPECT_EQ(w.read_f32("b", {1}), std::vector<float>{2.0f});
  EXPECT_EQ(w.origin(*w.find("b")), (dir.path() / "s2.safetensors").string());
  EXPECT_CONTAINS(error_of([&] { w.read_f32("b", {2}); }),
                  "s2.safetensors: tensor \"b\" has shape");

  auto refusal = [&](const std::string& json) {
    write_file_atomic(index, json);
    return error_of([&] { Weights::open(dir.path()); });
  };
  EXPECT_CONTAINS(
      refusal(R"({"weight_map": {"a": "s2.safetensors"}})"),
      index.string() + ": tensor \"a\" is mapped to s2.safetensors, which does not hold it");
  EXPECT_CONTAINS(refusal(R"({"weight_map": {"a": "s3.safetensors"}})"),
                  "shard s3.safetensors is missing");
  EXPECT_CONTAINS(refusal(R"({"weight_map": {"a": "../s1.safetensors"}})"),
                  "weight_map entry for \"a\" is \"../s1.safetensors\", expected the file name");
  EXPECT_CONTAINS(refusal(R"({"weight_map": {}})"), "expected a \"weight_map\" object");
  write_one(dir.path() / "s3.safetensors", "a", 3.0f);
  EXPECT_CONTAINS(refusal(R"({"weight_map": {"a": "s1.safetensors", "x": "s3.safetensors"}})"),
                  "tensor \"a\" is also in");
}

}  // namespace
}  // namespace simtune

#include "simtune/io/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "simtune/core/error.h"
#include "simtune/core/file.h"

namespace simtune {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() /
                 ("simtune_safetensors_test_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::vector<std::uint8_t> make_file(const std::string& header, const std::string& data,
                                    std::uint64_t header_len) {
  std::vector<std::uint8_t> bytes;
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<std::uint8_t>(header_len >> (8 * i)));
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

std::vector<std::uint8_t> make_file(const std::string& header, const std::string& data) {
  return make_file(header, data, header.size());
}

// Parses and expects an Error whose message contains every one of `needles`.
void expect_error(const std::vector<std::uint8_t>& bytes, const std::vector<std::string>& needles) {
  try {
    SafetensorsFile::parse(bytes, "bad.safetensors");
    FAIL() << "no error; expected one mentioning " << needles.front();
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const std::string& n : needles) {
      EXPECT_NE(msg.find(n), std::string::npos) << "message: " << msg << "\nmissing: " << n;
    }
  }
}

TEST(Safetensors, RoundTripSortsNamesPadsHeaderAndKeepsValues) {
  const fs::path dir = temp_dir("roundtrip");
  const std::vector<float> b = {1.5f, -2.25f, 3.0f, 1e-30f, -0.0f, 7.0f};
  const std::vector<float> a = {42.0f};
  const float scalar = 0.125f;
  save_safetensors(dir / "t.safetensors",
                   {{"zeta.b", {2, 3}, b.data()},
                    {"alpha.a", {1}, a.data()},
                    {"scalar", {}, &scalar},
                    {"empty", {0, 4}, nullptr}},
                   {{"format", "pt"}, {"note", "x"}});

  const std::string raw = read_file(dir / "t.safetensors");
  std::uint64_t n = 0;
  std::memcpy(&n, raw.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(raw.size(), 8 + n + (b.size() + a.size() + 1) * sizeof(float));

  const SafetensorsFile f = SafetensorsFile::open(dir / "t.safetensors");
  ASSERT_EQ(f.tensors().size(), 4u);
  EXPECT_EQ(f.tensors()[0].name, "alpha.a");
  EXPECT_EQ(f.tensors()[3].name, "zeta.b");
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.metadata().at("note"), "x");
  const TensorInfo* tb = f.find("zeta.b");
  ASSERT_NE(tb, nullptr);
  EXPECT_EQ(tb->dtype, DType::F32);
  EXPECT_EQ(tb->shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(tb->numel(), 6);
  EXPECT_EQ(tb->begin % 4, 0u);
  std::vector<float> got(6);
  f.read_f32(*tb, got.data());
  for (std::size_t i = 0; i < b.size(); ++i) {
    EXPECT_EQ(std::bit_cast<std::uint32_t>(got[i]), std::bit_cast<std::uint32_t>(b[i])) << i;
  }
  const TensorInfo* ts = f.find("scalar");
  ASSERT_NE(ts, nullptr);
  EXPECT_TRUE(ts->shape.empty());
  float s = 0;
  f.read_f32(*ts, &s);
  EXPECT_EQ(s, scalar);
  EXPECT_EQ(f.find("empty")->numel(), 0);
  EXPECT_EQ(f.find("missing"), nullptr);
  EXPECT_EQ(f.origin(), (dir / "t.safetensors").string());
  fs::remove_all(dir);
}

TEST(Safetensors, AcceptsSpacePaddedHeaderAndUnalignedData) {
  const float v[2] = {3.5f, -1.0f};
  const std::string data(reinterpret_cast<const char*>(v), sizeof(v));
  std::string header = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  // Trailing spaces (as the Python writer pads) that also leave the data at an odd file offset:
  // read_f32 must not assume alignment.
  header += "  ";
  while ((8 + header.size()) % 4 != 1) header += ' ';
  const std::vector<std::uint8_t> bytes = make_file(header, data);
  const SafetensorsFile f = SafetensorsFile::parse(bytes, "mem");
  float out[2];
  f.read_f32(*f.find("x"), out);
  EXPECT_EQ(out[0], 3.5f);
  EXPECT_EQ(out[1], -1.0f);
  EXPECT_TRUE(f.metadata().empty());
}

TEST(Safetensors, HalfConversionFollowsIeee) {
  // Values fixed by the IEEE 754 binary16 definition: 1, largest normal, smallest normal,
  // smallest and largest subnormal, signed zero, infinities and a NaN.
  const std::uint16_t h[] = {0x3C00, 0x7BFF, 0x0400, 0x0001, 0x03FF,
                             0x8000, 0x7C00, 0xFC00, 0x7E00, 0xC000};
  std::string data(reinterpret_cast<const char*>(h), sizeof(h));
  const std::string header = R"({"h":{"dtype":"F16","shape":[10],"data_offsets":[0,20]}})";
  const std::vector<std::uint8_t> bytes = make_file(header, data);
  const SafetensorsFile f = SafetensorsFile::parse(bytes, "mem");
  float out[10];
  f.read_f32(*f.find("h"), out);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], 65504.0f);
  EXPECT_EQ(out[2], std::ldexp(1.0f, -14));
  EXPECT_EQ(out[3], std::ldexp(1.0f, -24));
  EXPECT_EQ(out[4], std::ldexp(1023.0f, -24));
  EXPECT_TRUE(out[5] == 0.0f && std::signbit(out[5]));
  EXPECT_EQ(out[6], INFINITY);
  EXPECT_EQ(out[7], -INFINITY);
  EXPECT_TRUE(std::isnan(out[8]));
  EXPECT_EQ(out[9], -2.0f);
}

// Every F16 and BF16 bit pattern, plus F64 values, converted by numpy/torch (the oracle) and
// by read_f32; the Python side writes the file with its own header code.
TEST(Safetensors, ConversionsMatchNumpyAndTorchOnEveryBitPattern) {
  const fs::path dir = temp_dir("oracle");
  const fs::path path = dir / "oracle.safetensors";
  const std::string script = R"PY(
import json, struct, sys
import numpy as np, torch
bits = np.arange(65536, dtype=np.uint32).astype(np.uint16)
f16 = bits.view(np.float16)
bf16 = torch.from_numpy(bits.view(np.int16).copy()).view(torch.bfloat16)
f64 = np.array([0.1, -1e-40, 1e300, -1e300, 3.0000001, np.pi, 1e-46], dtype=np.float64)
arrays = [("f16", "F16", f16.tobytes(), [65536]),
          ("f16_expected", "F32", f16.astype(np.float32).tobytes(), [65536]),
          ("bf16", "BF16", bits.tobytes(), [65536]),
          ("bf16_expected", "F32", bf16.float().numpy().tobytes(), [65536]),
          ("f64", "F64", f64.tobytes(), [7]),
          ("f64_expected", "F32", f64.astype(np.float32).tobytes(), [7])]
header, data = {}, b""
for name, dtype, raw, shape in arrays:
    header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
    data += raw
h = json.dumps(header).encode()
with open(sys.argv[1], "wb") as out:
    out.write(struct.pack("<Q", len(h)) + h + data)
)PY";
  write_file_atomic(dir / "make.py", script);
  const std::string cmd = "/usr/bin/python3 " + (dir / "make.py").string() + " " + path.string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;

  const SafetensorsFile f = SafetensorsFile::open(path);
  for (const char* name : {"f16", "bf16", "f64"}) {
    const TensorInfo* t = f.find(name);
    const TensorInfo* e = f.find(std::string(name) + "_expected");
    ASSERT_NE(t, nullptr);
    ASSERT_NE(e, nullptr);
    std::vector<float> got(static_cast<std::size_t>(t->numel()));
    std::vector<float> want(got.size());
    f.read_f32(*t, got.data());
    f.read_f32(*e, want.data());
    int mismatches = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      const bool same = std::isnan(want[i]) ? std::isnan(got[i])
                                            : std::bit_cast<std::uint32_t>(got[i]) ==
                                                  std::bit_cast<std::uint32_t>(want[i]);
      if (!same && mismatches++ < 5) {
        ADD_FAILURE() << name << "[" << i << "]: got " << got[i] << " want " << want[i];
      }
    }
    EXPECT_EQ(mismatches, 0) << name;
  }
  fs::remove_all(dir);
}

// Our writer's output read back by an independent Python reader (json + numpy).
TEST(Safetensors, WrittenFileLoadsInPython) {
  const fs::path dir = temp_dir("python");
  std::vector<float> w(12);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.5f * static_cast<float>(i) - 2.0f;
  const float bias[3] = {1.0f, 2.0f, 3.0f};
  save_safetensors(dir / "w.safetensors",
                   {{"layer.weight", {4, 3}, w.data()}, {"layer.bias", {3}, bias}});
  const std::string script = R"PY(
import json, struct, sys
import numpy as np
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
assert n % 8 == 0, n
header = json.loads(raw[8:8 + n])
assert header.pop("__metadata__") == {"format": "pt"}
buf = raw[8 + n:]
def get(name):
    e = header[name]
    assert e["dtype"] == "F32"
    b, end = e["data_offsets"]
    return np.frombuffer(buf[b:end], dtype="<f4").reshape(e["shape"])
assert list(header) == sorted(header), list(header)
assert (get("layer.weight") == (0.5 * np.arange(12, dtype=np.float32) - 2).reshape(4, 3)).all()
assert (get("layer.bias") == np.array([1, 2, 3], dtype=np.float32)).all()
assert sum(e["data_offsets"][1] - e["data_offsets"][0] for e in header.values()) == len(buf)
)PY";
  write_file_atomic(dir / "check.py", script);
  const std::string cmd =
      "/usr/bin/python3 " + (dir / "check.py").string() + " " + (dir / "w.safetensors").string();
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  fs::remove_all(dir);
}

const std::string kFour(4, '\0');

TEST(SafetensorsMalformed, ShorterThanLengthField) {
  expect_error({1, 0, 0}, {"bad.safetensors", "8-byte"});
}

TEST(SafetensorsMalformed, HeaderRunsPastFile) {
  expect_error(make_file("{}", "", 100), {"bad.safetensors", "runs past the end"});
}

TEST(SafetensorsMalformed, AbsurdHeaderSize) {
  expect_error(make_file("{}", "", ~0ull), {"bad.safetensors", "limit"});
}

TEST(SafetensorsMalformed, HeaderNotJson) {
  expect_error(make_file("{\"a\": nope}", ""), {"bad.safetensors", "not valid JSON"});
  expect_error(make_file("{\"a\": \"\xff\"}", ""), {"bad.safetensors", "not valid JSON"});
}

TEST(SafetensorsMalformed, HeaderNotObject) {
  expect_error(make_file("[1, 2]", ""), {"bad.safetensors", "'{'"});
  expect_error(make_file("", ""), {"bad.safetensors", "'{'"});
}

TEST(SafetensorsMalformed, UnknownDtype) {
  expect_error(make_file(R"({"w":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}})", "x"),
               {"bad.safetensors", "\"w\"", "dtype \"F8\""});
}

TEST(SafetensorsMalformed, NegativeShape) {
  expect_error(make_file(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", kFour),
               {"bad.safetensors", "\"w\"", "-1"});
}

TEST(SafetensorsMalformed, ShapeOverflow) {
  expect_error(
      make_file(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})",
                kFour),
      {"bad.safetensors", "\"w\"", "overflows 64 bits"});
  // A zero dim after an overflowing prefix: zero bytes, but numel() would overflow on the way.
  expect_error(
      make_file(R"({"w":{"dtype":"I8","shape":[4611686018427387904,2,0],"data_offsets":[0,0]}})",
                ""),
      {"bad.safetensors", "\"w\"", "overflows 64 bits"});
}

TEST(SafetensorsMalformed, DeeplyNestedValuesAreRejectedWithoutRecursion) {
  const std::string deep = std::string(1'000'000, '[') + std::string(1'000'000, ']');
  expect_error(
      make_file(R"({"w":{"dtype":"F32","shape":[1,)" + deep + R"(],"data_offsets":[0,4]}})", kFour),
      {"bad.safetensors", "\"w\"", "an array"});
  expect_error(
      make_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[)" + deep + ",4]}}", kFour),
      {"bad.safetensors", "\"w\"", "an array"});
}

TEST(SafetensorsMalformed, OffsetsOutsideBuffer) {
  expect_error(make_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", kFour),
               {"bad.safetensors", "\"w\"", "run past"});
}

TEST(SafetensorsMalformed, BeginAfterEnd) {
  expect_error(make_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", kFour),
               {"bad.safetensors", "\"w\"", "begin > end"});
}

TEST(SafetensorsMalformed, ByteSizeDisagreesWithShape) {
  expect_error(make_file(R"({"w":{"dtype":"F16","shape":[3],"data_offsets":[0,4]}})", kFour),
               {"bad.safetensors", "\"w\"", "needs 6"});
}

TEST(SafetensorsMalformed, OverlappingTensors) {
  expect_error(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                         R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                         std::string(8, '\0')),
               {"bad.safetensors", "\"b\"", "overlap", "\"a\""});
}

TEST(SafetensorsMalformed, GapBetweenTensors) {
  expect_error(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                         R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                         std::string(12, '\0')),
               {"bad.safetensors", "\"b\"", "gap"});
}

TEST(SafetensorsMalformed, TrailingBytesAfterTensors) {
  expect_error(
      make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", std::string(6, '\0')),
      {"bad.safetensors", "is 6 bytes", "cover 4"});
}

TEST(SafetensorsMalformed, DuplicateTensorName) {
  expect_error(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                         R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                         kFour),
               {"bad.safetensors", "duplicate key \"a\""});
}

TEST(SafetensorsMalformed, MetadataValueNotString) {
  expect_error(make_file(R"({"__metadata__":{"format":1}})", ""),
               {"bad.safetensors", "__metadata__", "format"});
}

TEST(SafetensorsMalformed, EntryMissingFields) {
  expect_error(make_file(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", kFour),
               {"bad.safetensors", "\"w\"", "dtype"});
  expect_error(make_file(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", kFour),
               {"bad.safetensors", "\"w\"", "shape"});
  expect_error(make_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", kFour),
               {"bad.safetensors", "\"w\"", "data_offsets"});
  expect_error(make_file(R"({"w":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}})", kFour),
               {"bad.safetensors", "\"w\"", "shape entry"});
}

TEST(Safetensors, ReadF32RejectsIntegerTensors) {
  const std::vector<std::uint8_t> bytes =
      make_file(R"({"ids":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})", kFour);
  const SafetensorsFile f = SafetensorsFile::parse(bytes, "mem");
  float out;
  try {
    f.read_f32(*f.find("ids"), &out);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"ids\""), std::string::npos) << e.what();
  }
}

TEST(Safetensors, DtypeNamesAndSizes) {
  EXPECT_STREQ(dtype_name(DType::BF16), "BF16");
  EXPECT_EQ(dtype_size(DType::F64), 8u);
  EXPECT_EQ(dtype_size(DType::BOOL), 1u);
}

}  // namespace
}  // namespace simtune

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>

#include "simtune/core/error.h"
#include "simtune/data/npy.h"
#include "temp_dir.h"
#include "test_errors.h"

namespace simtune {
namespace {

// A version-1 .npy with `header` as its dict and `data` after it.
std::string npy(const std::string& header, const std::string& data) {
  std::string h = header;
  h.append((64 - (10 + h.size() + 1) % 64) % 64, ' ');
  h.push_back('\n');
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(h.size() & 0xff));
  out.push_back(static_cast<char>(h.size() >> 8));
  return out + h + data;
}

template <typename T>
std::string raw(std::initializer_list<T> values) {
  std::string out;
  for (T v : values) out.append(reinterpret_cast<const char*>(&v), sizeof v);
  return out;
}

std::filesystem::path write(const testing::TempDir& dir, const std::string& bytes) {
  const auto p = dir.path() / "t.npy";
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

std::string error_of(const std::filesystem::path& p) {
  try {
    load_npy_matrix(p);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Npy, Float32AndFloat64Matrices) {
  testing::TempDir dir("npy");
  const Matrix f =
      load_npy_matrix(write(dir, npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                                     raw<float>({1, 2, 3, 4, 5, 6.5f}))));
  ASSERT_EQ(f.rows, 2u);
  ASSERT_EQ(f.cols, 3u);
  EXPECT_EQ(f.row(1)[2], 6.5f);
  const Matrix d =
      load_npy_matrix(write(dir, npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }",
                                     raw<double>({0.25, -3.0}))));
  EXPECT_EQ(d.row(0)[0], 0.25f);
  EXPECT_EQ(d.row(0)[1], -3.0f);
}

// A float32 header with `rest` after its descr, i.e. fortran_order and shape.
std::string f4_header(const std::string& rest) {
  return "{'descr': '<f4', " + rest + ", }";
}

TEST(Npy, RefusalsNameTheFileAndTheProblem) {
  testing::TempDir dir("npy");
  EXPECT_CONTAINS(error_of(write(dir, "plain text")), "t.npy: not a .npy file");
  EXPECT_CONTAINS(error_of(write(dir, npy("{'descr': '<i4', 'fortran_order': False, "
                                          "'shape': (1, 1), }",
                                          raw<std::int32_t>({1})))),
                  "dtype '<i4' is not float32");
  const struct {
    std::string header, data, want;
  } cases[] = {
      {"'fortran_order': True, 'shape': (1, 1)", raw<float>({1}), "Fortran-order"},
      {"'fortran_order': False, 'shape': (3,)", raw<float>({1, 2, 3}), "is not 2-D"},
      {"'fortran_order': False, 'shape': (2, 2)", raw<float>({1, 2, 3}), "needs more data"},
      {"'fortran_order': False, 'shape': (4000000000000, 4000000000000)", raw<float>({1}),
       "needs more data"},
      {"'fortran_order': False, 'shape': (2, 1)", raw<float>({1, std::nanf("")}),
       "row 2 holds a NaN"},
  };
  for (const auto& c : cases) {
    EXPECT_CONTAINS(error_of(write(dir, npy(f4_header(c.header), c.data))), c.want);
  }
}

}  // namespace
}  // namespace simtune

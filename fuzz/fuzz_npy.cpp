// .npy matrices (teacher embeddings): any content either loads into a matrix of finite values
// whose size matches its shape, or throws simtune::Error naming the file; anything else is a bug.
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "simtune/core/check.h"
#include "simtune/core/error.h"
#include "simtune/data/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::filesystem::path path = std::filesystem::temp_directory_path() /
                                     ("simtune-fuzz-npy-" + std::to_string(::getpid()) + ".npy");
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    const simtune::Matrix m = simtune::load_npy_matrix(path);
    SIMTUNE_CHECK(m.data.size() == m.rows * m.cols);
    for (float v : m.data) SIMTUNE_CHECK(std::isfinite(v));
  } catch (const simtune::Error&) {
  }
  std::filesystem::remove(path);
  return 0;
}

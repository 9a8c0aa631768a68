// A row-major float matrix: what encoding returns and what evaluation and search read.
#pragma once

#include <cstddef>
#include <vector>

namespace simtune {

// rows embeddings of `cols` floats each.
struct Matrix {
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<float> data;
  float* row(std::size_t i) { return data.data() + i * cols; }
  const float* row(std::size_t i) const { return data.data() + i * cols; }
};

}  // namespace simtune

// Random test inputs shared by the kernel tests.
#pragma once

#include <random>
#include <vector>

namespace simtune::testing {

inline std::vector<float> randn(std::size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(gen);
  return v;
}

}  // namespace simtune::testing

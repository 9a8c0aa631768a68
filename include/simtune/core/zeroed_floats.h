// A float array that starts as zeros without writing them: calloc takes fresh pages from the
// kernel, which cost no memory until touched. Training keeps the word embeddings' gradients and
// AdamW moments in these and touches only rows that some batch's tokens hit.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

namespace simtune {

class ZeroedFloats {
 public:
  explicit ZeroedFloats(std::size_t n)
      : data_(static_cast<float*>(std::calloc(n == 0 ? 1 : n, sizeof(float)))), size_(n) {
    if (!data_) throw std::bad_alloc();
  }
  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  std::size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(float* p) const noexcept { std::free(p); }
  };
  std::unique_ptr<float[], Free> data_;
  std::size_t size_;
};

}  // namespace simtune

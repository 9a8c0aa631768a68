// Any byte string either parses or throws simtune::Error; everything else (a crash, a sanitizer
// report, another exception type) is a bug.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "simtune/core/error.h"
#include "simtune/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const simtune::SafetensorsFile file = simtune::SafetensorsFile::parse({data, size}, "fuzz");
    // Reading every floating tensor touches exactly the bytes the header validation accepted.
    std::vector<float> out;
    for (const simtune::TensorInfo& t : file.tensors()) {
      if (t.dtype != simtune::DType::F32 && t.dtype != simtune::DType::F16 &&
          t.dtype != simtune::DType::BF16 && t.dtype != simtune::DType::F64) {
        continue;
      }
      out.resize(static_cast<std::size_t>(t.numel()));
      file.read_f32(t, out.data());
    }
  } catch (const simtune::Error&) {
  }
  return 0;
}

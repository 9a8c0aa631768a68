// pytorch_model.bin reader: any byte string either reads or throws simtune::Error; a crash, a
// sanitizer report or another exception type is a bug. The first byte picks what the rest is:
// even, a data.pkl for the pickle reader alone (a zip's checksums would stop most mutations of
// a pickle inside an archive); odd, a whole archive for TorchCheckpoint.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "io/float_convert.h"
#include "io/torch_checkpoint.h"
#include "io/torch_pickle.h"
#include "simtune/core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::span<const std::uint8_t> rest(data + 1, size - 1);
  try {
    if (data[0] % 2 == 0) {
      simtune::read_torch_pickle(rest, "fuzz");
      return 0;
    }
    const simtune::TorchCheckpoint file = simtune::TorchCheckpoint::parse(rest, "fuzz");
    // Reading every floating tensor touches exactly the storage bytes the checks accepted; an
    // archive may declare storages far larger than its bytes, so huge tensors are skipped.
    std::vector<float> out;
    for (const simtune::TensorInfo& t : file.tensors()) {
      if (!simtune::is_floating(t.dtype) || t.numel() > (1 << 20)) continue;
      out.resize(static_cast<std::size_t>(t.numel()));
      file.read_f32(t, out.data());
    }
  } catch (const simtune::Error&) {
  }
  return 0;
}

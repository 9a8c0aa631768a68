// The pickle inside a PyTorch zip checkpoint (data.pkl), read as data and never run.
// torch.save(state_dict) pickles a dict (usually collections.OrderedDict) whose values are
// torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks) calls,
// each storage a persistent id ("storage", torch.FloatStorage, key, location, numel) naming the
// archive entry data/<key>. This reader understands exactly those opcodes and globals and builds
// plain records from them; any other global (os.system, builtins.eval, ...), callable, opcode or
// shape of data is refused with an Error before anything is built from it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "simtune/io/safetensors.h"

namespace simtune {

struct PickledTensor {
  std::string name;                 // the state dict's key
  DType dtype;                      // from the storage type (torch.FloatStorage -> F32, ...)
  std::string storage;              // the archive entry data/<storage>
  std::int64_t storage_numel = 0;   // elements, as the persistent id declares
  std::int64_t offset = 0;          // elements into the storage
  std::vector<std::int64_t> shape;  // the tensor's size
  std::vector<std::int64_t> stride;
};

// The tensors of the state dict pickled in `pickle`, in the dict's order. Throws Error starting
// with `origin` (and the byte offset) for anything else.
std::vector<PickledTensor> read_torch_pickle(std::span<const std::uint8_t> pickle,
                                             const std::string& origin);

}  // namespace simtune

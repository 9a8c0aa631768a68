// Every kernel of kernels.h as a function pointer: each instruction set's copy of
// kernels_isa.cpp fills one table, and kernels.cpp forwards each call to the running CPU's.
#pragma once

#include "simtune/model/kernels.h"

namespace simtune {

struct KernelTable {
  decltype(&simtune::gelu) gelu;
  decltype(&simtune::gelu_grad) gelu_grad;
  decltype(&simtune::embeddings_forward) embeddings_forward;
  decltype(&simtune::embeddings_backward) embeddings_backward;
  decltype(&simtune::layernorm_forward) layernorm_forward;
  decltype(&simtune::layernorm_backward) layernorm_backward;
  decltype(&simtune::dropout_masks) dropout_masks;
  decltype(&simtune::dropout_apply) dropout_apply;
  decltype(&simtune::linear_forward) linear_forward;
  decltype(&simtune::linear_backward) linear_backward;
  decltype(&simtune::attention_probs_offsets) attention_probs_offsets;
  decltype(&simtune::attention_forward) attention_forward;
  decltype(&simtune::attention_backward) attention_backward;
  decltype(&simtune::bias_residual_layernorm_forward) bias_residual_layernorm_forward;
  decltype(&simtune::bias_residual_layernorm_backward) bias_residual_layernorm_backward;
  decltype(&simtune::linear_gelu_forward) linear_gelu_forward;
  decltype(&simtune::bias_gelu_backward) bias_gelu_backward;
  decltype(&simtune::gelu_recompute) gelu_recompute;
};

namespace isa_avx512 {
extern const KernelTable kKernels;
}
namespace isa_avx2 {
extern const KernelTable kKernels;
}
namespace isa_generic {
extern const KernelTable kKernels;
}

}  // namespace simtune

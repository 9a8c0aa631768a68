// The instruction sets simtune's kernels are compiled for, and the one this process runs. One
// binary carries all three; at start it picks the best the CPU (and the OS) supports, unless
// SIMTUNE_ISA=avx512|avx2|generic forces one (for tests and benchmarks).
#pragma once

#include <string>

namespace simtune {

enum class Isa { generic, avx2, avx512 };

// avx512: AVX-512 F/BW/DQ/VL (x86-64-v4); avx2: AVX2 + FMA (x86-64-v3); generic: any x86-64.
bool cpu_supports(Isa isa);
// The path kernels run: decided on the first call. Throws Error when SIMTUNE_ISA names an
// unknown path or one this CPU lacks; main and load_model call it, where errors are reported,
// before any kernel runs.
Isa active_isa();
const char* isa_name(Isa isa);
// The CPU's model name and the features that matter here, e.g. "AMD EPYC 9R14 (avx512f avx512bw
// avx512dq avx512vl avx512_vnni avx512_bf16 avx2 fma)".
std::string cpu_description();

}  // namespace simtune

#include "simtune/core/cpu.h"

#include <cstdlib>
#include <fstream>

#include "simtune/core/error.h"

namespace simtune {
namespace {

Isa detect_best() {
  if (cpu_supports(Isa::avx512)) return Isa::avx512;
  if (cpu_supports(Isa::avx2)) return Isa::avx2;
  return Isa::generic;
}

Isa choose() {
  const char* forced = std::getenv("SIMTUNE_ISA");
  if (forced == nullptr || *forced == '\0') return detect_best();
  for (Isa isa : {Isa::avx512, Isa::avx2, Isa::generic}) {
    if (std::string(forced) != isa_name(isa)) continue;
    if (!cpu_supports(isa)) {
      throw Error(std::string("SIMTUNE_ISA=") + forced + ": this CPU does not support it (" +
                  cpu_description() + ")");
    }
    return isa;
  }
  throw Error(std::string("SIMTUNE_ISA=") + forced + ": expected avx512, avx2 or generic");
}

}  // namespace

bool cpu_supports(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  // libgcc's checks include the OS's support for the wider register state (XGETBV).
  switch (isa) {
    case Isa::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::generic:
      return true;
  }
  return false;
#else
  return isa == Isa::generic;
#endif
}

Isa active_isa() {
  static const Isa isa = choose();
  return isa;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512:
      return "avx512";
    case Isa::avx2:
      return "avx2";
    case Isa::generic:
      return "generic";
  }
  return "?";
}

std::string cpu_description() {
  std::string model = "unknown CPU";
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);) {
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  std::string features;
#if defined(__x86_64__) || defined(__i386__)
  const std::pair<const char*, bool> flags[] = {
      {"avx512f", __builtin_cpu_supports("avx512f")},
      {"avx512bw", __builtin_cpu_supports("avx512bw")},
      {"avx512dq", __builtin_cpu_supports("avx512dq")},
      {"avx512vl", __builtin_cpu_supports("avx512vl")},
      {"avx512_vnni", __builtin_cpu_supports("avx512vnni")},
      {"avx512_bf16", __builtin_cpu_supports("avx512bf16")},
      {"avx2", __builtin_cpu_supports("avx2")},
      {"fma", __builtin_cpu_supports("fma")}};
  for (const auto& [name, has] : flags) {
    if (!has) continue;
    if (!features.empty()) features += ' ';
    features += name;
  }
#endif
  return model + " (" + (features.empty() ? "no vector extensions used" : features) + ")";
}

}  // namespace simtune

#!/usr/bin/env bash
# The portable build's promise: only the AVX-512 and AVX2 copies of the kernels (namespaces
# isa_avx512 / isa_avx2, picked at run time) use instructions beyond baseline x86-64. Any other
# function using a VEX/EVEX-encoded instruction (mnemonics starting with "v") would crash with
# SIGILL on an older CPU; this lists them and fails.
# Usage: check_portable.sh BINARY
set -euo pipefail
binary=$1
[ "$(uname -m)" = x86_64 ] || { echo "check_portable: not x86-64, nothing to check"; exit 0; }
objdump -d --no-show-raw-insn -C "$binary" | awk '
  /^[0-9a-f]+ <.*>:$/ { fn = substr($0, index($0, "<") + 1); sub(/>:$/, "", fn); next }
  fn != "" && $2 ~ /^v/ && fn !~ /isa_avx512::|isa_avx2::/ { bad[fn] = $2 }
  END {
    n = 0
    for (f in bad) { print "uses " bad[f] ": " f; n++ }
    if (n) { print n " function(s) outside the ISA-specific kernels need AVX"; exit 1 }
    print "check_portable: only isa_avx512:: and isa_avx2:: functions use AVX instructions"
  }'

#!/usr/bin/env bash
# Runs a command with SIMTUNE_ISA forcing one instruction-set path. Skips (exit 77, which ctest
# reports as skipped) when this CPU lacks that path, or when it is the CPU's default path, which
# the tests' plain run already covers.
# Usage: with_isa.sh ISA SIMTUNE_BINARY COMMAND...
set -euo pipefail
isa=$1 simtune=$2
shift 2
if ! SIMTUNE_ISA=$isa "$simtune" --version >/dev/null 2>&1; then
  echo "this CPU has no $isa path: skipped"
  exit 77
fi
default=$(env -u SIMTUNE_ISA "$simtune" --version | sed -n 's/^kernels: \([a-z0-9]*\) .*/\1/p')
if [ "$isa" = "$default" ]; then
  echo "$isa is this CPU's default path, which the plain run tests: skipped"
  exit 77
fi
SIMTUNE_ISA=$isa exec "$@"

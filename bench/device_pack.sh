#!/usr/bin/env bash
# Packs a build for bench/device_bench.py on another machine: the shared same-cpu pack (binary,
# the libraries it links, model files, STS data) plus oneDNN (libdnnl.so.2, which simtune opens at
# run time as bench matmul's reference) and this directory's device_bench.py.
#   bench/device_pack.sh [build-dir] [dest]   then run there: python3 DEST/device_bench.py
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
dest=${2:-.same-cpu}
../shared/tools/same-cpu/pack.sh "$build/simtune" "$dest" >/dev/null
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
tar -C "$stage" -xJf "$dest/simlib.tar.xz"
for lib in libdnnl.so.2 libOpenCL.so.1; do
  # awk reads to the end: leaving early would make ldconfig die of SIGPIPE, failing the pipe.
  path=$(/sbin/ldconfig -p | awk -v l="$lib" '$1 == l && p == "" {p = $NF} END {print p}')
  [ -n "$path" ] && cp -L "$path" "$stage/lib/"
done
tar -C "$stage" -cJf "$dest/simlib.tar.xz" lib
cp bench/device_bench.py "$dest/"
du -sh "$dest"

#!/usr/bin/env bash
# Builds simtune and runs every test: unit tests, oracle parity tests (PyTorch, Hugging Face's
# tokenizer), the unit tests again under ASan+UBSan, and bounded fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

scripts/setup.sh
# Tests run side by side (ctest -j) and each uses OpenMP; threads that spin while they wait would
# steal the cores the others need, so waiting threads sleep.
export OMP_WAIT_POLICY=passive

echo "== release build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"
echo "== tests (unit + oracle)"
ctest --test-dir build -j "$jobs" --output-on-failure

echo "== sanitizer build (ASan + UBSan)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIMTUNE_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs" --target simtune_tests
# OpenMP's and OpenBLAS's thread pools live until exit by design; LSan would call them leaks.
ASAN_OPTIONS=detect_leaks=0 ctest --test-dir build-asan -L unit -j "$jobs" --output-on-failure

echo "== fuzzing"
scripts/fuzz.sh

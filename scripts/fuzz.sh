#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz and runs each for
# FUZZ_SECONDS (default 30), as many at once as there are cores, seeded with a small corpus
# generated here. Exits non-zero when a fuzzer finds a crash, a sanitizer report or an escaping exception (crash files go to
# build-fuzz/artifacts/).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
seconds="${FUZZ_SECONDS:-30}"

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSIMTUNE_FUZZ=ON -DSIMTUNE_NATIVE=OFF >/dev/null
targets=()
for src in "$root"/fuzz/fuzz_*.cpp; do targets+=("$(basename "$src" .cpp)"); done
ninja -C "$build" "${targets[@]}"

corpus_root="$build/corpus"
mkdir -p "$corpus_root/fuzz_safetensors" "$build/artifacts"

# Seed safetensors files: valid ones in every floating dtype plus a metadata-only header, so the
# fuzzer starts past the length and JSON checks.
/usr/bin/python3 - "$corpus_root/fuzz_safetensors" <<'PY'
import json, struct, sys, os
out = sys.argv[1]
def write(name, header, data=b""):
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(os.path.join(out, name), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)
write("empty", {"__metadata__": {"format": "pt"}})
sizes = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "U8": 1}
data, header = b"", {"__metadata__": {"format": "pt"}}
for i, (dtype, size) in enumerate(sizes.items()):
    n = size * 6
    header[f"t{i}.weight"] = {"dtype": dtype, "shape": [2, 3], "data_offsets": [len(data), len(data) + n]}
    data += bytes(range(len(data), len(data) + n))
header["scalar"] = {"dtype": "F32", "shape": [], "data_offsets": [len(data), len(data) + 4]}
data += struct.pack("<f", 1.5)
header["zero"] = {"dtype": "F32", "shape": [0, 4], "data_offsets": [len(data), len(data)]}
write("mixed", header, data)
PY

# Seed PyTorch checkpoints written by torch.save itself (F32 and F16 state dicts, a shared
# storage): "\x01" + the archive for the archive reader, "\x00" + its data.pkl for the pickle reader.
mkdir -p "$corpus_root/fuzz_torch_checkpoint"
/usr/bin/python3 - "$corpus_root/fuzz_torch_checkpoint" <<'PY'
import collections, io, os, sys, zipfile
import torch
out = sys.argv[1]
flat = torch.arange(12, dtype=torch.float32)
states = {
    "f32": collections.OrderedDict(w=torch.ones(2, 3), b=torch.zeros(3), ids=torch.arange(4)),
    "f16": {"w": torch.ones(2, 2, dtype=torch.float16), "x": torch.ones(3, dtype=torch.bfloat16)},
    "shared": collections.OrderedDict(a=flat[:6].view(2, 3), b=flat[6:]),
}
for name, state in states.items():
    buffer = io.BytesIO()
    torch.save(state, buffer)
    archive = buffer.getvalue()
    with open(os.path.join(out, name), "wb") as f:
        f.write(b"\x01" + archive)
    pickle = next(zipfile.ZipFile(io.BytesIO(archive)).read(n)
                  for n in zipfile.ZipFile(io.BytesIO(archive)).namelist() if n.endswith("/data.pkl"))
    with open(os.path.join(out, name + ".pkl"), "wb") as f:
        f.write(b"\x00" + pickle)
PY

# The parsers of config.json, trainer_state.json and pair files start from real files.
mkdir -p "$corpus_root/fuzz_config_json" "$corpus_root/fuzz_trainer_state" "$corpus_root/fuzz_pairs"
cp "$root/data/models/paraphrase-MiniLM-L6-v2/config.json" "$corpus_root/fuzz_config_json/minilm"
printf '%s\n' '{"step": 4, "seed": 42, "adam_steps": 4, "batch_size": 16, "shuffle": true,' \
  ' "dropout_rng": ["1", "2", "3", "18446744073709551615"], "best_score": 0.5}' \
  >"$corpus_root/fuzz_trainer_state/state"
{ printf '\x00'; head -c 2048 "$root/data/stsbenchmark/sts-dev.csv"; } \
  >"$corpus_root/fuzz_pairs/sts"
printf '\x08\xef\xbb\xbfsentence1\tsentence2\tscore\na\tb\t0.5\n' >"$corpus_root/fuzz_pairs/header"
printf '\x01{"sentence1": "a", "sentence2": "b", "score": 0.5}\n{"text_a": "c", "text_b": "d", "label": 1}\n' \
  >"$corpus_root/fuzz_pairs/jsonl"

mkdir -p "$corpus_root/fuzz_retrieval"
printf 'q1\tquery one\nq2\tquery two\n\0d1\tdoc one\nd2\tdoc two\n\0q1\td2\nq2\td1\nq1\td1\n' \
  >"$corpus_root/fuzz_retrieval/set"
printf 'anchor\tpositive\tnegative\na\tb\tc\n' >"$corpus_root/fuzz_retrieval/triplets"
# Teacher-embedding matrices as numpy writes them (float32, float64, format version 2).
mkdir -p "$corpus_root/fuzz_npy"
/usr/bin/python3 - "$corpus_root/fuzz_npy" <<'PY'
import sys
import numpy as np
from numpy.lib import format as npy
out = sys.argv[1]
np.save(f"{out}/f32.npy", np.arange(6, dtype=np.float32).reshape(2, 3))
np.save(f"{out}/f64.npy", np.linspace(-1, 1, 8).reshape(4, 2))
with open(f"{out}/v2.npy", "wb") as f:
    npy.write_array(f, np.ones((1, 4), dtype=np.float32), version=(2, 0))
PY
printf '\x43%s\n' '{"anchor": "a", "positive": "b", "negative": "c"}' >"$corpus_root/fuzz_pairs/triplets"

# Tokenizer (and other) fuzzers start from the repository's text data where they have no seeds.
for target in "${targets[@]}"; do
  mkdir -p "$corpus_root/$target"
  if [ -z "$(ls -A "$corpus_root/$target")" ]; then
    head -c 4096 "$root/data/models/paraphrase-MiniLM-L6-v2/vocab.txt" >"$corpus_root/$target/vocab"
  fi
done

# One fuzzer per core at a time (each is single-threaded); each writes its own log, printed when
# it finds something.
mkdir -p "$build/logs"
run_one() {
  local target=$1
  if "$build/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$build/artifacts/$target-" "$corpus_root/$target" >"$build/logs/$target.log" 2>&1; then
    echo "== $target: clean after ${seconds}s"
  else
    tail -n 40 "$build/logs/$target.log" >&2
    echo "FAIL: $target found a crash; reproduce with $build/fuzz/$target <artifact>" >&2
    return 1
  fi
}
status=0
running=0
for target in "${targets[@]}"; do
  if [ "$running" -ge "$(nproc)" ]; then
    wait -n || status=1
    running=$((running - 1))
  fi
  run_one "$target" &
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  wait -n || status=1
  running=$((running - 1))
done
exit "$status"

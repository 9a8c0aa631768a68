#!/usr/bin/env bash
# The main job until fine-tuning lands: embed the STS benchmark sentences and benchmark encode.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)"

work=build/main
mkdir -p "$work"
cat <<'BANNER'
========================================================================================
 No pretrained weights can be downloaded here: this run uses a RANDOMLY INITIALISED model
 with the real paraphrase-MiniLM-L6-v2 configuration and tokenizer. Its similarity
 scores are meaningless; its speed and its agreement with PyTorch are real.
========================================================================================
BANNER
build/simtune init --config data/models/paraphrase-MiniLM-L6-v2 --seed 0 --out "$work/model" --force
# Both sentence columns (6 and 7) of the STS test split, one sentence per line.
cut -f6,7 data/stsbenchmark/sts-test.csv | tr -d '\r' | tr '\t' '\n' > "$work/sts-test-sentences.txt"
build/simtune encode --model "$work/model" --input "$work/sts-test-sentences.txt" \
  --output "$work/sts-test.npy"
echo "wrote $work/sts-test.npy ($(wc -l < "$work/sts-test-sentences.txt") sentences)"
build/simtune similarity --model "$work/model" "A man is playing a guitar." "A man plays the guitar."
build/simtune bench encode --model "$work/model" --input "$work/sts-test-sentences.txt"

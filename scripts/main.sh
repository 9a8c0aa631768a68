#!/usr/bin/env bash
# The main job: fine-tune paraphrase-MiniLM-L6-v2 on the STS benchmark as sentence-transformers'
# training_stsbenchmark example does (4 epochs, batch 16, lr 2e-5, 10% warmup, dev evaluation
# every epoch, best model kept, test at the end), and print the scores before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)"

work=build/main
mkdir -p "$work"
model=sentence-transformers/paraphrase-MiniLM-L6-v2
# Resolving the model (empty input) downloads it into the Hugging Face cache, or finds it there.
if ! build/simtune tokenize --model "$model" --input /dev/null > /dev/null 2> "$work/resolve.log"; then
  cat "$work/resolve.log" >&2
  cat <<'BANNER'
========================================================================================
 The pretrained model could not be had (no network to the Hugging Face hub and nothing in
 the cache), so this run fine-tunes a RANDOMLY INITIALISED model with the real
 paraphrase-MiniLM-L6-v2 configuration and tokenizer. Its scores are meaningless; the
 pipeline, its speed and its agreement with PyTorch are real.
========================================================================================
BANNER
  build/simtune init --config data/models/paraphrase-MiniLM-L6-v2 --seed 0 --out "$work/random-init" --force
  model=$work/random-init
fi

sts=data/stsbenchmark
build/simtune train --model "$model" --train "$sts/sts-train.csv" --eval "$sts/sts-dev.csv" \
  --test "$sts/sts-test.csv" --score-scale 5 --epochs 4 --batch-size 16 --lr 2e-5 \
  --warmup-ratio 0.1 --output "$work/paraphrase-MiniLM-L6-v2-sts" --log-file "$work/train-log.jsonl"
echo "model, evaluation CSVs and model card: $work/paraphrase-MiniLM-L6-v2-sts"

#!/usr/bin/env bash
# simtune against the PyTorch reference, in one run, on the same random MiniLM-shaped weights and
# the same STS data: the machine's peak, encode (sentences/s) and train (pairs/s, peak RSS) for
# every instruction-set path this CPU has, and PyTorch as the environment sets OpenBLAS and with
# OPENBLAS_CORETYPE unset (OpenBLAS's own choice for this CPU). Prints JSON lines.
# Usage: bench/run.sh [build-dir]   (run on an otherwise idle machine)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
simtune=$build/simtune
work=$build/bench
mkdir -p "$work"

"$simtune" init --config data/models/paraphrase-MiniLM-L6-v2 --seed 0 --out "$work/model" --force
# Encode: both sentence columns of STS dev (3,000 sentences).
cut -f6,7 data/stsbenchmark/sts-dev.csv | tr -d '\r' | tr '\t' '\n' > "$work/sentences.txt"
"$simtune" tokenize --model "$work/model" --input "$work/sentences.txt" > "$work/sentences.ids.jsonl"
# Train: STS train pairs in file order, batch 16.
cut -f6 data/stsbenchmark/sts-train.csv | tr -d '\r' > "$work/train-a.txt"
cut -f7 data/stsbenchmark/sts-train.csv | tr -d '\r' > "$work/train-b.txt"
"$simtune" tokenize --model "$work/model" --input "$work/train-a.txt" > "$work/train-a.ids.jsonl"
"$simtune" tokenize --model "$work/model" --input "$work/train-b.txt" > "$work/train-b.ids.jsonl"

echo "== peak"
echo "simtune: $("$simtune" bench peak --json)"
isas=$("$simtune" bench peak --json --seconds 0.05 | /usr/bin/python3 -c \
  'import json,sys; print(" ".join(k[:-len("_gflop_per_s")] for k in json.load(sys.stdin) if k.endswith("_gflop_per_s")))')
torch_train() {
  /usr/bin/python3 bench/torch_train.py --model "$work/model" --train data/stsbenchmark/sts-train.csv \
    --ids-a "$work/train-a.ids.jsonl" --ids-b "$work/train-b.ids.jsonl" --score-scale 5 --steps 30
}
echo "== encode, batch 32"
for isa in $isas; do
  echo "simtune $isa: $(SIMTUNE_ISA=$isa "$simtune" bench encode --model "$work/model" \
    --input "$work/sentences.txt" --json)"
done
echo "pytorch: $(/usr/bin/python3 bench/torch_encode.py --model "$work/model" --ids "$work/sentences.ids.jsonl")"
echo "pytorch, OPENBLAS_CORETYPE unset: $(env -u OPENBLAS_CORETYPE /usr/bin/python3 bench/torch_encode.py \
  --model "$work/model" --ids "$work/sentences.ids.jsonl")"
echo "== train, batch 16, dropout on"
for isa in $isas; do
  echo "simtune $isa: $(SIMTUNE_ISA=$isa "$simtune" bench train --model "$work/model" \
    --train data/stsbenchmark/sts-train.csv --score-scale 5 --steps 30 --json)"
done
echo "pytorch: $(torch_train)"
echo "pytorch, OPENBLAS_CORETYPE unset: $(unset OPENBLAS_CORETYPE; torch_train)"
echo "== MultipleNegativesRankingLoss on the STS pairs (scores ignored), batch 64, dropout on"
echo "simtune: $("$simtune" bench train --model "$work/model" --train data/stsbenchmark/sts-train.csv \
  --loss MultipleNegativesRankingLoss --batch-size 64 --steps 8 --json)"
echo "pytorch: $(/usr/bin/python3 bench/torch_train.py --model "$work/model" \
  --train data/stsbenchmark/sts-train.csv --ids-a "$work/train-a.ids.jsonl" \
  --ids-b "$work/train-b.ids.jsonl" --score-scale 5 --loss MultipleNegativesRankingLoss \
  --batch-size 64 --steps 8)"
# What fit() trains on: the pairs in a shuffled order (seeded), so a batch mixes STS's short
# captions with its long news and forum sentences, and the library pads each batch to its longest
# text (simtune packs them). In file order a batch's texts are alike in length. Same batches both
# sides; PyTorch with OpenBLAS's own kernel choice.
/usr/bin/python3 -c 'import random, sys
rows = open(sys.argv[1], encoding="utf-8").readlines()
random.Random(42).shuffle(rows)
open(sys.argv[2], "w", encoding="utf-8").writelines(rows)' \
  data/stsbenchmark/sts-train.csv "$work/train-shuffled.csv"
for col in 6 7; do
  cut -f$col "$work/train-shuffled.csv" | tr -d '\r' > "$work/train-shuffled-$col.txt"
  "$simtune" tokenize --model "$work/model" --input "$work/train-shuffled-$col.txt" \
    > "$work/train-shuffled-$col.ids.jsonl"
done
echo "== shuffled pairs: CosineSimilarityLoss at batch 16 and 64, MultipleNegativesRankingLoss at 64"
for args in "--batch-size 16 --steps 30" "--batch-size 64 --steps 8" \
  "--loss MultipleNegativesRankingLoss --batch-size 64 --steps 8"; do
  # shellcheck disable=SC2086  # $args is a list of options
  echo "simtune $args: $("$simtune" bench train --model "$work/model" \
    --train "$work/train-shuffled.csv" --score-scale 5 $args --json)"
  # shellcheck disable=SC2086
  echo "pytorch $args: $(env -u OPENBLAS_CORETYPE /usr/bin/python3 bench/torch_train.py \
    --model "$work/model" --train "$work/train-shuffled.csv" \
    --ids-a "$work/train-shuffled-6.ids.jsonl" --ids-b "$work/train-shuffled-7.ids.jsonl" \
    --score-scale 5 $args)"
done
echo "== CachedMultipleNegativesRankingLoss, batch 1024 in mini-batches of 32: peak RSS"
echo "simtune: $("$simtune" bench train --model "$work/model" --train data/stsbenchmark/sts-train.csv \
  --loss CachedMultipleNegativesRankingLoss --batch-size 1024 --mini-batch-size 32 --warmup 0 \
  --steps 2 --json)"
echo "== thread scaling: train at batch 64, encode at batch 32, 1 thread to all cores in powers of 2"
threads=1
while [ "$threads" -le "$(nproc)" ]; do
  echo "simtune train, $threads threads: $("$simtune" bench train --model "$work/model" \
    --train data/stsbenchmark/sts-train.csv --score-scale 5 --batch-size 64 --steps 8 \
    --threads "$threads" --json)"
  echo "pytorch train, $threads threads: $(/usr/bin/python3 bench/torch_train.py --model "$work/model" \
    --train data/stsbenchmark/sts-train.csv --ids-a "$work/train-a.ids.jsonl" \
    --ids-b "$work/train-b.ids.jsonl" --score-scale 5 --batch-size 64 --steps 8 --threads "$threads")"
  echo "simtune encode, $threads threads: $("$simtune" bench encode --model "$work/model" \
    --input "$work/sentences.txt" --threads "$threads" --json)"
  threads=$((threads * 2))
done

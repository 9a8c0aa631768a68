#!/usr/bin/python3
"""PyTorch side of `simtune bench train`: training throughput of the reference trainer
(scripts/oracle/train_reference.py: sentence-transformers' fit with CosineSimilarityLoss or
--loss, AdamW, clipping, linear warmup) on the same model directory and the same token ids.

Input: the pair file (--train, STS layout: score in column 5) for the labels, and the ids of
its two text columns from `simtune tokenize` (--ids-a, --ids-b: JSONL, one {"ids": [...]} a
line, one line per pair in file order). Tokenization is excluded from the figures.

Batches of --batch-size consecutive pairs in file order (wrapping around at the end), dropout
as the model's config.json sets it (training mode). --warmup-steps untimed steps, then
--steps timed ones, each a full optimizer step: forward of both sides, backward, clipping,
AdamW, schedule. Prints one JSON object: pairs/s and peak RSS (VmHWM, the process's own:
Python, torch and the model's weights, gradients and Adam moments).

BLAS and threads as bench/torch_encode.py sets them (its re-exec helper is reused): Debian's
OpenMP OpenBLAS on the library path, threads = every CPU we may run on unless --threads.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch_encode  # bench/, beside this script; imports no torch or BLAS itself


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, type=Path, help="sentence-transformers model directory")
    parser.add_argument("--train", required=True, type=Path, help="pair file (STS layout) for the labels")
    parser.add_argument("--ids-a", required=True, type=Path, help="JSONL ids of the first texts")
    parser.add_argument("--ids-b", required=True, type=Path, help="JSONL ids of the second texts")
    parser.add_argument("--score-scale", type=float, default=5.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--loss", default="CosineSimilarityLoss",
                        help="a train_reference.LOSSES name (scored or (anchor, positive) losses)")
    parser.add_argument("--steps", type=int, default=10, help="timed optimizer steps")
    parser.add_argument("--warmup-steps", type=int, default=2, help="untimed steps first")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--blas", choices=sorted(torch_encode.BLAS_DIRS), default="openmp")
    return parser.parse_args()


def main():
    args = parse_args()
    torch_encode.reexec_with_blas(args.blas, args.threads)

    import torch
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "oracle"))
    import bert_reference
    import train_reference

    torch.set_num_threads(args.threads)
    model = bert_reference.load_model(args.model)
    labels = [label for _, _, label in train_reference.read_sts_pairs(args.train, args.score_scale)]
    ids_a = [ids[:model.max_seq_length] for ids in bert_reference.read_ids(args.ids_a)]
    ids_b = [ids[:model.max_seq_length] for ids in bert_reference.read_ids(args.ids_b)]
    if not len(ids_a) == len(ids_b) == len(labels):
        sys.exit(f"{len(labels)} pairs in {args.train}, but {len(ids_a)} and {len(ids_b)} id lines")
    batches = train_reference.batches(ids_a, ids_b, labels, args.batch_size)
    total = args.warmup_steps + args.steps
    schedule = [batches[i % len(batches)] for i in range(total)]

    trainer = train_reference.Trainer(model, train_reference.TrainConfig(total_steps=total), dropout=True,
                                      loss=args.loss)
    for batch in schedule[:args.warmup_steps]:
        trainer.step(*batch)
    start, cpu_start = time.perf_counter(), time.process_time()
    losses = [trainer.step(*batch)["loss"] for batch in schedule[args.warmup_steps:]]
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start

    pairs = sum(len(batch[2]) for batch in schedule[args.warmup_steps:])
    tokens = sum(len(ids) for batch in schedule[args.warmup_steps:] for ids in batch[0] + batch[1])
    print(json.dumps({
        "engine": "pytorch " + torch.__version__,
        "loss": args.loss,
        "blas": args.blas,
        "blas_libraries": torch_encode.loaded_blas(),
        "openblas_core": torch_encode.openblas_core(),
        "openblas_coretype_env": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
        "threads": torch.get_num_threads(),
        "batch_size": args.batch_size,
        "dropout": model.bert.config["hidden_dropout_prob"],
        "warmup_steps": args.warmup_steps,
        "steps": args.steps,
        "pairs": pairs,
        "tokens": tokens,
        "tokenization": "excluded (ids from simtune tokenize)",
        "seconds": round(seconds, 4),
        # CPU time over wall time shows threads busy-waiting as well as working.
        "cpu_seconds": round(cpu_seconds, 4),
        "pairs_per_s": round(pairs / seconds, 2),
        "tokens_per_s": round(tokens / seconds, 1),
        "peak_rss_mib": torch_encode.peak_rss_mib(),
        "final_loss": losses[-1],
    }, indent=2))


if __name__ == "__main__":
    main()

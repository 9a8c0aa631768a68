#!/usr/bin/python3
"""SoftmaxLoss (a classifier over (u, v, |u - v|), cross-entropy) on STS pairs with three classes
against the PyTorch reference (tests/python/loss_parity.py): the first batch's loss and every
gradient, the classifier's included, and a 50-step trajectory, both sides starting from one
classifier that the test draws as torch.nn.Linear does and passes to simtune with --loss-init.
Then, with simtune's own seeded classifier: the saved model holds no classifier tensor (the
library saves the SentenceTransformer alone) while checkpoints carry it, resuming a checkpoint
equals the uninterrupted run bit for bit, and labels that are not classes fail naming file and
line."""

import subprocess

import numpy as np
import torch

import loss_parity
import oracle_common as oc
import safetensors_io
import test_train_parity as parity
import train_reference

CLASSES = 3
DIMENSION = 384


def train(args, data_file, output, *extra):
    log_file = output.with_suffix(".jsonl")
    oc.run([args.simtune, "train", "--model", args.workdir / "model", "--train", data_file,
            "--output", output, "--loss", "SoftmaxLoss", "--no-shuffle", "--dropout", 0,
            "--max-steps", 12, "--batch-size", loss_parity.BATCH_SIZE,
            "--score-scale", parity.SCORE_SCALE, "--log-file", log_file, "--quiet", *extra])
    return oc.read_jsonl(log_file.read_text())


def check_saving_and_resume(args, checks, data_file):
    straight_dir, resumed_dir = args.workdir / "straight", args.workdir / "resumed"
    straight = train(args, data_file, straight_dir, "--checkpoint-steps", 5)
    saved = safetensors_io.load_f32(straight_dir / "model.safetensors")
    checks.true("saved model holds no classifier tensor",
                not any("classifier" in name for name in saved), f"tensors: {sorted(saved)[:5]}...")
    checkpoint = straight_dir / "checkpoints" / "checkpoint-10"
    in_checkpoint = safetensors_io.load_f32(checkpoint / "loss.safetensors")
    checks.true("checkpoint carries the classifier (3, 1152) and (3)",
                {k: v.shape for k, v in in_checkpoint.items()} ==
                {"classifier.weight": (CLASSES, 3 * DIMENSION), "classifier.bias": (CLASSES,)},
                f"got {({k: v.shape for k, v in in_checkpoint.items()})}")
    # torch.nn.Linear's bound for the seeded init: 1/sqrt(fan_in).
    bound = 1 / np.sqrt(3 * DIMENSION)
    first = safetensors_io.load_f32(straight_dir / "checkpoints" / "checkpoint-5" / "loss.safetensors")
    checks.true("seeded classifier within torch.nn.Linear's bound (plus 5 steps of lr 2e-5)",
                all(np.abs(v).max() < bound + 1e-3 and np.abs(v).max() > bound / 2
                    for v in first.values()), f"max |value| {[float(np.abs(v).max()) for v in first.values()]}")
    resumed = train(args, data_file, resumed_dir, "--resume", checkpoint)
    checks.true("resume from checkpoint-10: steps 11-12 logged as the uninterrupted run's",
                [(r["step"], r["loss"], r["grad_norm"]) for r in resumed] ==
                [(r["step"], r["loss"], r["grad_norm"]) for r in straight[10:]],
                f"resumed {resumed}, straight {straight[10:]}")
    checks.true("resume from checkpoint-10: the saved model equals the uninterrupted run's, bit for bit",
                (straight_dir / "model.safetensors").read_bytes() ==
                (resumed_dir / "model.safetensors").read_bytes())


def check_bad_labels(args, checks):
    rows = ["sentence1\tsentence2\tlabel", "a cat\ta dog\t0", "a cat\ta dog\t2", "a cat\ta dog\t1.5"]
    bad = args.workdir / "bad-labels.tsv"
    oc.write_lines(bad, rows)
    for extra, line in ((["--num-labels", 2], 3), ([], 4)):
        result = subprocess.run([args.simtune, "train", "--model", args.workdir / "model",
                                 "--train", bad, "--output", args.workdir / "bad", "--loss",
                                 "SoftmaxLoss", "--quiet", *map(str, extra)],
                                capture_output=True, text=True)
        checks.true(f"label not a class ({' '.join(map(str, extra)) or 'no --num-labels'}): "
                    f"exit 1 naming {bad.name}:{line}",
                    result.returncode == 1 and f"{bad.name}:{line}:" in result.stderr,
                    f"exit {result.returncode}: {result.stderr.strip()}")


def main():
    args = parity.parse_args()
    checks = oc.Checks()
    torch.set_num_threads(1)
    model_dir, data = loss_parity.prepare(args)
    torch.manual_seed(0)
    reference = train_reference.SoftmaxLoss(DIMENSION, CLASSES)
    init = args.workdir / "classifier.safetensors"
    safetensors_io.save(init, {name: p.detach().numpy() for name, p in reference.named_parameters()})
    loss_parity.check_loss(args, checks, model_dir, data["classes"],
                           ["--loss", "SoftmaxLoss", "--num-labels", CLASSES, "--loss-init", init],
                           reference)
    check_saving_and_resume(args, checks, data["classes"][0])
    check_bad_labels(args, checks)
    checks.finish()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""CoSENTLoss and AnglELoss on STS scored pairs against the PyTorch reference: gradients of a
batch and a 50-step trajectory (tests/python/loss_parity.py). Then AnglELoss at an odd dimension:
the library's pairwise_angle_sim (torch.chunk into uneven halves) fails on it, and simtune refuses
it, naming the dimension."""

import subprocess

import torch

import loss_parity
import train_reference


def check_odd_dimension(args, checks, model_dir, data):
    x, y = torch.randn(4, 383), torch.randn(4, 383)
    try:
        train_reference.pairwise_angle_sim(x, y)
        failed = ""
    except RuntimeError as e:
        failed = str(e).splitlines()[0]
    checks.true("reference: pairwise_angle_sim at dimension 383 fails", bool(failed), failed)
    result = subprocess.run([args.simtune, "train", "--model", model_dir, "--train", data["sts"][0],
                             "--output", args.workdir / "odd", "--loss", "AnglELoss",
                             "--matryoshka-dims", "384,383", "--score-scale", "5", "--max-steps",
                             "1", "--quiet"], capture_output=True, text=True)
    checks.true("simtune: AnglELoss at dimension 383 refused naming it",
                result.returncode == 1 and "even embedding dimension, not 383" in result.stderr,
                f"exit {result.returncode}: {result.stderr.strip()}")


if __name__ == "__main__":
    loss_parity.main(lambda workdir: [("sts", ["--loss", loss], loss) for loss in ("CoSENTLoss", "AnglELoss")],
                     check_odd_dimension)

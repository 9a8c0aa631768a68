#!/usr/bin/python3
"""Data-parallel training and sharded encoding under `mpirun -np 2` against one process.

The single-process run is the one test_train_parity.py holds to PyTorch; here the question is
whether splitting it over ranks changes it. A tiny model (MiniLM's config and tokenizer, hidden
32, 2 layers) keeps every run to a few seconds; one thread a rank.

(a) 50 steps, global batch 15 (each rank 8 + 7 pairs, the last step one pair, so rank 1 has
    none), shuffled, dropout off: per-step loss within 1e-6 relative and final weights within
    1e-6 of one process; two N=2 runs bit-identical (logs and weights); an N=2 run with
    --no-overlap (the whole gradient exchanged after backward, not each layer's bucket as
    backward finishes it) bit-identical to the bucketed one.
(b) A checkpoint written at step 20 of the N=2 run, resumed with N=2: bit-identical to the
    uninterrupted N=2 run; resumed with N=1: within 1e-6 of it.
(c) `mpirun -np 2` and `-np 3 simtune encode`: the .npy output byte for byte one process's.
(d) A rank killed (SIGKILL) mid-training: mpirun exits non-zero within seconds, saying so.
(e) Other losses, N=2 within 1e-6 of one process: one of per-example terms (ContrastiveLoss)
    and two whose examples interact, for which the ranks gather the batch's embeddings
    (MultipleNegativesRankingLoss, with the last step's lone pair its own negative; CoSENTLoss),
    and CachedMultipleNegativesRankingLoss, whose GradCache mini-batches gather likewise;
    SoftmaxLoss, whose classifier is trained with the model.
Skipped (exit 77) where mpirun is missing.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import oracle_common as oc
import safetensors_io

STS_TRAIN = oc.REPO / "data" / "stsbenchmark" / "sts-train.csv"
PAIRS = 49 * 15 + 1
BATCH = 15
STEPS = 50
TOLERANCE = 1e-6
RUN_TIMEOUT = 120  # seconds, any one run
KILL_DEADLINE = 10  # seconds from the kill to mpirun's exit


def mpirun(ranks):
    command = ["mpirun", "-np", str(ranks), "--oversubscribe", "--bind-to", "none",
               "-x", "OMP_NUM_THREADS=1", "-x", "OMP_WAIT_POLICY=passive"]
    if os.geteuid() == 0:
        command.append("--allow-run-as-root")
    return command


def run(command, what):
    command = [str(part) for part in command]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        sys.exit(f"FAIL: {what}: no exit within {RUN_TIMEOUT} s: {' '.join(command)}")
    if result.returncode != 0:
        sys.exit(f"FAIL: {what}: exited {result.returncode}: {' '.join(command)}\n"
                 f"{result.stdout}{result.stderr}")
    return result


class Training:
    def __init__(self, args, model, pairs):
        self.args, self.model, self.pairs = args, model, pairs

    def command(self, name, extra=(), pairs=None, scale=5):
        out = self.args.workdir / name
        return out, [self.args.simtune, "train", "--model", self.model, "--train",
                     pairs or self.pairs, "--score-scale", scale, "--batch-size", BATCH,
                     "--max-steps", STEPS,
                     "--dropout", "0", "--seed", "7", "--threads", "1", "--quiet",
                     "--output", out, "--log-file", out.with_suffix(".log"), *extra]

    def train(self, name, ranks, extra=(), pairs=None, scale=5):
        out, command = self.command(name, extra, pairs, scale)
        run((mpirun(ranks) if ranks > 1 else []) + command, f"{name} ({ranks} ranks)")
        return out


def losses(out):
    rows = [json.loads(line) for line in out.with_suffix(".log").read_text().splitlines()]
    return {row["step"]: row["loss"] for row in rows if "loss" in row}


def weights(out):
    return safetensors_io.load_f32(out / "model.safetensors")


def compare_runs(checks, name, a, b, atol, steps, weights_atol=None):
    """Per-step loss (relative) and every final weight (absolute, weights_atol if given) of runs a
    and b within atol; atol 0 asks for the same bits."""
    weights_atol = atol if weights_atol is None else weights_atol
    la, lb = losses(a), losses(b)
    checks.true(f"{name}: steps {steps.start}..{steps.stop - 1} logged",
                all(s in la and s in lb for s in steps))
    rel = [abs(la[s] - lb[s]) / max(abs(lb[s]), 1e-30) for s in steps if s in la and s in lb]
    worst = max(rel) if rel else float("inf")
    checks.true(f"{name}: per-step loss", worst <= atol,
                f"max relative diff {worst:.3g} (tolerance {atol:g})")
    wa, wb = weights(a), weights(b)
    checks.true(f"{name}: same tensors", sorted(wa) == sorted(wb))
    diffs = {t: float(np.abs(wa[t].astype(np.float64) - wb[t]).max()) if wa[t].shape == wb[t].shape
             else float("inf") for t in set(wa) & set(wb)}
    tensor = max(diffs, key=lambda t: (not diffs[t] <= weights_atol, diffs[t]))
    checks.true(f"{name}: final weights", all(d <= weights_atol for d in diffs.values()),
                f"max abs diff {diffs[tensor]:.3g} in {tensor} (tolerance {weights_atol:g})")


def find_rank(mpirun_pid, rank):
    """The pid of `rank` among mpirun's descendants, from their environment."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            if f"OMPI_COMM_WORLD_RANK={rank}".encode() not in environ:
                continue
            pid = int(entry.name)
            for _ in range(4):  # mpirun's child, or its grandchild through a launcher
                pid = int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if pid == mpirun_pid:
                    return int(entry.name)
        except (OSError, ValueError, IndexError):
            continue
    return None


def kill_a_rank(checks, training):
    out, command = training.command("killed", [])
    command[command.index("--max-steps") + 1] = 1000000
    log = out.with_suffix(".log")
    job = subprocess.Popen([str(part) for part in mpirun(2) + command], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        started = time.monotonic()
        while time.monotonic() - started < RUN_TIMEOUT and job.poll() is None:
            if log.exists() and len(log.read_text().splitlines()) >= 3:
                break
            time.sleep(0.1)
        victim = find_rank(job.pid, 1)
        if not checks.true("kill: rank 1 found while training", victim is not None and
                           job.poll() is None):
            return
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        try:
            output, _ = job.communicate(timeout=KILL_DEADLINE)
        except subprocess.TimeoutExpired:
            checks.true(f"kill: mpirun exits within {KILL_DEADLINE} s", False, "still running")
            return
        seconds = time.monotonic() - killed
        checks.true(f"kill: mpirun exits within {KILL_DEADLINE} s", seconds <= KILL_DEADLINE,
                    f"{seconds:.1f} s")
        checks.true("kill: exit status non-zero", job.returncode != 0, f"{job.returncode}")
        checks.true("kill: the message names the killed rank",
                    "rank 1" in output and "signal 9" in output, output.strip()[-300:])
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()


def main():
    args = oc.parse_args(__doc__)
    if shutil.which("mpirun") is None:
        print("SKIP: mpirun not found (scripts/setup.sh installs openmpi-bin)")
        sys.exit(77)
    work = args.workdir
    checks = oc.Checks()
    model = work / "model"
    oc.run([args.simtune, "init", "--config", oc.tiny_config_dir(work), "--seed", "0",
            "--out", model])
    pairs = work / "pairs.csv"
    pairs.write_text("".join(STS_TRAIN.read_text(encoding="utf-8").splitlines(True)[:PAIRS]),
                     encoding="utf-8")
    training = Training(args, model, pairs)
    steps = range(1, STEPS + 1)

    # (a)
    alone = training.train("alone", 1)
    two = training.train("two", 2, ["--checkpoint-steps", "20"])
    again = training.train("two-again", 2)
    compare_runs(checks, "N=2 vs N=1", two, alone, TOLERANCE, steps)
    compare_runs(checks, "N=2 twice", again, two, 0.0, steps)
    compare_runs(checks, "N=2 bucketed vs --no-overlap", training.train("two-unbucketed", 2,
                 ["--no-overlap"]), two, 0.0, steps)

    # (b)
    checkpoint = two / "checkpoints" / "checkpoint-20"
    checks.true("checkpoint-20 written by the N=2 run", checkpoint.is_dir())
    resumed2 = training.train("resumed-two", 2, ["--resume", checkpoint])
    resumed1 = training.train("resumed-one", 1, ["--resume", checkpoint])
    later = range(21, STEPS + 1)
    compare_runs(checks, "resumed with N=2 vs uninterrupted N=2", resumed2, two, 0.0, later)
    compare_runs(checks, "resumed with N=1 vs uninterrupted N=2", resumed1, two, TOLERANCE, later)

    # (c)
    lines = work / "lines.txt"
    oc.write_lines(lines, oc.varied_sentences(100, 3))  # 103 lines: uneven shares
    encode = [args.simtune, "encode", "--model", model, "--input", lines, "--threads", "1",
              "--quiet", "--batch-size", "8", "--output"]
    run(encode + [work / "alone.npy"], "encode alone")
    expected = (work / "alone.npy").read_bytes()
    for ranks in (2, 3):
        output = work / f"sharded{ranks}.npy"
        run(mpirun(ranks) + encode + [output], f"encode with {ranks} ranks")
        checks.true(f"encode with {ranks} ranks: byte for byte one process's",
                    output.read_bytes() == expected)
    checks.true("encode: rows", np.load(work / "alone.npy").shape[0] == 103)

    # (e)
    # CoSENT's exponentials at scale 20 amplify the split sums' last-bit differences over 50
    # steps: its per-step loss holds 1e-6, its weights drift to about 1.3e-6.
    for loss, weights_atol in (("ContrastiveLoss", TOLERANCE),
                               ("MultipleNegativesRankingLoss", TOLERANCE), ("CoSENTLoss", 3e-6)):
        extra = ["--loss", loss]
        compare_runs(checks, f"{loss} N=2 vs N=1", training.train(f"{loss}-two", 2, extra),
                     training.train(f"{loss}-alone", 1, extra), TOLERANCE, steps, weights_atol)
    # The cached loss gathers inside GradCache: each rank's 8 or 7 pairs embed in mini-batches
    # of 3 (the last one short), the loss runs on the gathered batch, and each rank replays its
    # own mini-batches.
    extra = ["--loss", "CachedMultipleNegativesRankingLoss", "--mini-batch-size", "3"]
    compare_runs(checks, "CachedMultipleNegativesRankingLoss N=2 vs N=1",
                 training.train("cached-two", 2, extra), training.train("cached-alone", 1, extra),
                 TOLERANCE, steps)
    # SoftmaxLoss's classifier is trained with the model: its gradient, weighted by each rank's
    # share, is summed with the model's. Labels: the STS score rounded into 3 classes.
    labelled = work / "labelled.tsv"
    labelled.write_text("".join(
        f"{row[5]}\t{row[6]}\t{min(2, int(float(row[4]) * 3 / 5))}\n"
        for row in (line.split("\t") for line in pairs.read_text(encoding="utf-8").splitlines())),
        encoding="utf-8")
    extra = ["--loss", "SoftmaxLoss"]
    compare_runs(checks, "SoftmaxLoss N=2 vs N=1",
                 training.train("softmax-two", 2, extra, labelled, 1),
                 training.train("softmax-alone", 1, extra, labelled, 1), TOLERANCE, steps)

    # (d)
    kill_a_rank(checks, training)
    checks.finish()


if __name__ == "__main__":
    main()

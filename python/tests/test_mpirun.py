"""The package under `mpirun -np 2 python3 script.py` against the same script in one process:
fit trains data-parallel (rank 0 alone logs, reports, evaluates and writes; every rank returns
with the trained model loaded) and encode gives every rank one process's embeddings. Skipped
where mpirun is missing. One thread a rank, as CI's two cores need."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import sentences, sts_rows, write_lines

STEPS = 12
TOLERANCE = 1e-6  # as the command line's N=2 test (tests/python/test_distributed.py)
TIMEOUT = 120  # seconds, either run

SCRIPT = """
import json, os, sys
import numpy as np
import simtune

model_dir, train, dev, out, sentences, result, overlap = sys.argv[1:]
rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", "0"))
texts = open(sentences, encoding="utf-8").read().splitlines()
model = simtune.SentenceTransformer(model_dir)
before = model.encode(texts, batch_size=8)
reports = []
fitted = simtune.fit(model, train, evaluator=dev, score_scale=5, batch_size=7, max_steps={steps},
                     seed=5, lr=1e-3, dropout=0, eval_steps=6, checkpoint_steps=4,
                     log_file=out + ".log", output=out, callback=reports.append,
                     overlap=overlap == "overlap")
np.save(f"{{result}}-{{rank}}-before.npy", before)
np.save(f"{{result}}-{{rank}}-after.npy", model.encode(texts, batch_size=8))
with open(f"{{result}}-{{rank}}.json", "w") as f:
    json.dump({{"steps": fitted.steps, "reports": [r.step for r in reports],
               "evals": len(fitted.evals), "path": model.path}}, f)
""".format(steps=STEPS)


def load_safetensors(path):
    """Every tensor of a float32 safetensors file, by name."""
    data = path.read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + size])
    header.pop("__metadata__", None)
    body = data[8 + size:]
    return {name: np.frombuffer(body[t["data_offsets"][0]:t["data_offsets"][1]], "<f4")
            for name, t in header.items()}


def logged_losses(out):
    steps = [json.loads(line) for line in out.with_suffix(".log").read_text().splitlines()]
    return [(s["step"], s["loss"]) for s in steps if "loss" in s]


def files_under(directory):
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


@pytest.mark.skipif(shutil.which("mpirun") is None, reason="mpirun not found")
def test_fit_and_encode_under_mpirun_equal_one_process(workdir, tiny_dir):
    rows = sts_rows(60)
    train, dev = workdir / "mpi-train.tsv", workdir / "mpi-dev.tsv"
    for path, part in ((train, rows[:49]), (dev, rows[49:])):
        path.write_text("".join(f"{a}\t{b}\t{s}\n" for a, b, s in part), encoding="utf-8")
    lines = workdir / "mpi-sentences.txt"
    write_lines(lines, sentences(37))
    script = workdir / "mpi_script.py"
    script.write_text(SCRIPT, encoding="utf-8")
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="passive")
    mpirun = ["mpirun", "-np", "2", "--oversubscribe", "--bind-to", "none", "-x", "PYTHONPATH",
              "-x", "OMP_NUM_THREADS", "-x", "OMP_WAIT_POLICY"]
    if os.geteuid() == 0:
        mpirun.append("--allow-run-as-root")
    runs = {}
    for name, launcher, overlap in (("alone", [], "overlap"), ("two", mpirun, "overlap"),
                                    ("two-after-backward", mpirun, "no-overlap")):
        out, result = workdir / f"mpi-{name}", workdir / f"mpi-{name}-result"
        command = [*launcher, sys.executable, str(script), str(tiny_dir), str(train), str(dev),
                   str(out), str(lines), str(result), overlap]
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, env=env)
        assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}{done.stderr}"
        runs[name] = (out, result)

    (alone, alone_result), (two, two_result) = runs["alone"], runs["two"]
    # Rank 0 alone logs: each step's line once, the losses one process's.
    got, want = logged_losses(two), logged_losses(alone)
    assert [s for s, _ in got] == list(range(1, STEPS + 1)) == [s for s, _ in want]
    worst = max(abs(a - b) / abs(b) for (_, a), (_, b) in zip(got, want))
    assert worst <= TOLERANCE, f"per-step loss: max relative diff {worst:.3g}"
    # Rank 0 alone writes: the same files as one process (best model, checkpoints, eval CSV).
    assert files_under(two) == files_under(alone)
    wa = load_safetensors(two / "model.safetensors")
    wb = load_safetensors(alone / "model.safetensors")
    assert sorted(wa) == sorted(wb)
    worst = max(float(np.abs(wa[t].astype(np.float64) - wb[t]).max()) for t in wa)
    assert worst <= TOLERANCE, f"final weights: max abs diff {worst:.3g}"
    # overlap=False exchanges the gradients after backward, in the same order: the same bits.
    sequential = load_safetensors(runs["two-after-backward"][0] / "model.safetensors")
    assert all(sequential[t].tobytes() == wa[t].tobytes() for t in wa)
    # Rank 0 alone reports and evaluates; every rank ends with the output's model loaded.
    ranks = [json.loads((workdir / f"{two_result.name}-{r}.json").read_text()) for r in (0, 1)]
    single = json.loads((workdir / f"{alone_result.name}-0.json").read_text())
    assert ranks[0]["reports"] == single["reports"] == list(range(1, STEPS + 1))
    assert ranks[1]["reports"] == [] and ranks[1]["evals"] == 0
    assert ranks[0]["evals"] == single["evals"] > 0
    assert [r["steps"] for r in ranks] == [STEPS, STEPS]
    assert [r["path"] for r in ranks] == [str(two), str(two)]
    # encode is not split: every rank embeds every text, as one process does.
    before = np.load(workdir / f"{alone_result.name}-0-before.npy")
    for r in (0, 1):
        assert np.load(workdir / f"{two_result.name}-{r}-before.npy").tobytes() == before.tobytes()
    after = [np.load(workdir / f"{two_result.name}-{r}-after.npy") for r in (0, 1)]
    assert after[0].tobytes() == after[1].tobytes()
    single_after = np.load(workdir / f"{alone_result.name}-0-after.npy")
    assert after[0].shape == single_after.shape and len(single_after) == 37
    assert float(np.abs(after[0] - single_after).max()) <= 1e-5

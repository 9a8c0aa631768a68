"""simtune.fit against `simtune train`: the same log and model for a seed; callbacks; Ctrl-C."""

import json
import os
import signal
import threading
import time
from types import SimpleNamespace

import pytest

import simtune
from conftest import STS_DEV, sts_rows


def log_without_timing(path):
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for line in lines:
        line.pop("pairs_per_s", None)
    return lines


TRAIN_OPTIONS = {"epochs": 2, "batch_size": 4, "seed": 7, "lr": 1e-3, "warmup_ratio": 0.25}


def test_log_and_model_equal_the_clis(cli, workdir, tiny_dir):
    # The first 40 STS dev rows train, the next 12 evaluate.
    rows = sts_rows(52)
    train_file, dev_file = workdir / "train.tsv", workdir / "dev.tsv"
    for path, part in ((train_file, rows[:40]), (dev_file, rows[40:])):
        path.write_text("".join(f"{a}\t{b}\t{s}\n" for a, b, s in part), encoding="utf-8")
    cli("train", "--model", tiny_dir, "--train", train_file, "--eval", dev_file, "--score-scale", 5,
        "--epochs", 2, "--batch-size", 4, "--seed", 7, "--lr", 1e-3, "--warmup-ratio", 0.25,
        "--log-file", workdir / "cli-log.jsonl", "--output", workdir / "cli-out", "--quiet")

    model = simtune.SentenceTransformer(tiny_dir)
    reports = []
    result = simtune.fit(model, train_file, evaluator=dev_file, score_scale=5,
                         log_file=workdir / "py-log.jsonl", output=workdir / "py-out",
                         callback=reports.append, **TRAIN_OPTIONS)
    cli_log = log_without_timing(workdir / "cli-log.jsonl")
    assert log_without_timing(workdir / "py-log.jsonl") == cli_log
    assert result.steps == 20 and [r.step for r in reports] == list(range(1, 21))
    steps = [line for line in cli_log if "loss" in line]
    assert [r.loss for r in reports] == [line["loss"] for line in steps]
    assert [e.metrics.cosine_spearman for e in result.evals] == \
        [line["spearman_cosine"] for line in cli_log if "eval" in line]
    for name in ("model.safetensors", "config.json", "sentence_bert_config.json"):
        assert (workdir / "py-out" / name).read_bytes() == (workdir / "cli-out" / name).read_bytes()
    # fit leaves the trained model in the object, as sentence-transformers' fit does.
    assert model.path == os.fspath(workdir / "py-out")


def test_pairs_as_lists_train_as_files_do(cli, workdir, tiny_dir):
    rows = [(a, b, s / 5) for a, b, s in sts_rows(24)]
    for name, part in (("list.jsonl", rows[:16]), ("list-dev.jsonl", rows[16:])):
        (workdir / name).write_text("".join(
            json.dumps({"sentence1": a, "sentence2": b, "score": s}) + "\n" for a, b, s in part))
    cli("train", "--model", tiny_dir, "--train", workdir / "list.jsonl", "--max-steps", 3,
        "--batch-size", 4, "--seed", 3, "--eval", workdir / "list-dev.jsonl", "--eval-name",
        "sts", "--log-file", workdir / "cli-list.jsonl", "--output", workdir / "cli-list-out",
        "--quiet")
    # Tuples and sentence-transformers' InputExample (texts, label) mixed; the dev set as an
    # EmbeddingSimilarityEvaluator (sentences1, sentences2, scores, name).
    train = [row if i % 2 else SimpleNamespace(texts=[row[0], row[1]], label=row[2])
             for i, row in enumerate(rows[:16])]
    dev = SimpleNamespace(sentences1=[r[0] for r in rows[16:]],
                          sentences2=[r[1] for r in rows[16:]],
                          scores=[r[2] for r in rows[16:]], name="sts")
    simtune.fit(simtune.SentenceTransformer(tiny_dir), train, evaluator=dev, max_steps=3,
                batch_size=4, seed=3, log_file=workdir / "py-list.jsonl",
                output=workdir / "py-list-out")
    assert log_without_timing(workdir / "py-list.jsonl") == \
        log_without_timing(workdir / "cli-list.jsonl")


def leftover_temporaries(directory):
    return [p for p in directory.rglob("*") if ".tmp" in p.name]


def test_other_losses_train_as_the_cli_does(cli, workdir, tiny_dir):
    # (anchor, positive, negative) rows: MultipleNegativesRankingLoss with a hard-negative column
    # inside MatryoshkaLoss, as `simtune train --loss ... --matryoshka-dims` reads them from a file.
    rows = sts_rows(30)
    triplets = [(a, b, rows[(i + 7) % len(rows)][1]) for i, (a, b, _) in enumerate(rows)]
    path = workdir / "triplets.tsv"
    path.write_text("anchor\tpositive\tnegative\n" + "".join("\t".join(t) + "\n" for t in triplets),
                    encoding="utf-8")
    cli("train", "--model", tiny_dir, "--train", path, "--loss", "MultipleNegativesRankingLoss",
        "--matryoshka-dims", "32,16", "--batch-sampler", "no_duplicates", "--max-steps", 5,
        "--batch-size", 6, "--seed", 5, "--log-file", workdir / "cli-mnrl.jsonl", "--output",
        workdir / "cli-mnrl-out", "--quiet")
    for name, train in (("file", path), ("list", triplets)):
        simtune.fit(simtune.SentenceTransformer(tiny_dir), train,
                    loss="MultipleNegativesRankingLoss", matryoshka_dims=[32, 16],
                    batch_sampler="no_duplicates", max_steps=5, batch_size=6, seed=5,
                    log_file=workdir / f"py-mnrl-{name}.jsonl", output=workdir / f"py-mnrl-{name}")
        assert log_without_timing(workdir / f"py-mnrl-{name}.jsonl") == \
            log_without_timing(workdir / "cli-mnrl.jsonl")
        assert (workdir / f"py-mnrl-{name}" / "model.safetensors").read_bytes() == \
            (workdir / "cli-mnrl-out" / "model.safetensors").read_bytes()


def test_softmax_loss_trains_as_the_cli_does(workdir, cli, tiny_dir):
    # Three classes as integer labels, the classifier drawn from the seed on both sides.
    rows = [(a, b, float(i % 3)) for i, (a, b, _) in enumerate(sts_rows(24))]
    path = workdir / "classes.tsv"
    path.write_text("sentence1\tsentence2\tlabel\n" +
                    "".join(f"{a}\t{b}\t{label:g}\n" for a, b, label in rows), encoding="utf-8")
    cli("train", "--model", tiny_dir, "--train", path, "--loss", "SoftmaxLoss", "--max-steps", 4,
        "--batch-size", 6, "--seed", 3, "--log-file", workdir / "cli-softmax.jsonl", "--output",
        workdir / "cli-softmax-out", "--quiet")
    for name, train in (("file", path), ("list", rows)):
        simtune.fit(simtune.SentenceTransformer(tiny_dir), train, loss="SoftmaxLoss", max_steps=4,
                    batch_size=6, seed=3, log_file=workdir / f"py-softmax-{name}.jsonl",
                    output=workdir / f"py-softmax-{name}")
        assert log_without_timing(workdir / f"py-softmax-{name}.jsonl") == \
            log_without_timing(workdir / "cli-softmax.jsonl")
        assert (workdir / f"py-softmax-{name}" / "model.safetensors").read_bytes() == \
            (workdir / "cli-softmax-out" / "model.safetensors").read_bytes()
    with pytest.raises(ValueError, match=r"pairs\[2\]: score 2.0 is outside \[0.0, 1.0\]"):
        simtune.fit(simtune.SentenceTransformer(tiny_dir), rows, loss="SoftmaxLoss", num_labels=2,
                    max_steps=1, output=workdir / "py-softmax-bad")
    with pytest.raises(ValueError, match=r"pairs\[1\]: label 1.5 is not a class"):
        simtune.fit(simtune.SentenceTransformer(tiny_dir), [rows[0], (*rows[1][:2], 1.5)],
                    loss="SoftmaxLoss", max_steps=1, output=workdir / "py-softmax-bad")


def test_exception_in_callback_stops_cleanly(workdir, tiny_dir):
    out, log = workdir / "stopped", workdir / "stopped.jsonl"

    def stop_at_3(report):
        if report.step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        simtune.fit(simtune.SentenceTransformer(tiny_dir), STS_DEV, score_scale=5, batch_size=4,
                    log_file=log, output=out, callback=stop_at_3)
    assert [json.loads(line)["step"] for line in log.read_text().splitlines()] == [1, 2, 3]
    assert not (out / "model.safetensors").exists() and not leftover_temporaries(out)


def test_ctrl_c_interrupts_training_between_steps(workdir, tiny_dir):
    out, log = workdir / "interrupted", workdir / "interrupted.jsonl"
    seen, first = [], threading.Event()

    def record(report):
        seen.append(report.step)
        first.set()

    # SIGINT arrives while the engine runs without the GIL, from another thread.
    killer = threading.Thread(target=lambda: first.wait(60) and os.kill(os.getpid(), signal.SIGINT))
    killer.start()
    with pytest.raises(KeyboardInterrupt):
        simtune.fit(simtune.SentenceTransformer(tiny_dir), STS_DEV, score_scale=5, batch_size=2,
                    log_file=log, output=out, callback=record)
    killer.join()
    steps = [json.loads(line)["step"] for line in log.read_text().splitlines()]
    # The interrupt may surface inside the callback, before it recorded its step.
    assert steps[:len(seen)] == seen and len(seen) <= len(steps) <= len(seen) + 1
    assert len(steps) < 750
    assert not leftover_temporaries(out)


def test_ctrl_c_interrupts_encoding(minilm_dir):
    model = simtune.SentenceTransformer(minilm_dir)
    texts = ["a sentence to embed, again and again"]
    began = time.monotonic()
    model.encode(texts * 40, batch_size=1)
    per_text = (time.monotonic() - began) / 40
    texts *= int(4.0 / per_text) + 1  # about 4 s of work
    # No callback: the engine's own check between batches must see the SIGINT.
    killer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    began = time.monotonic()
    killer.start()
    with pytest.raises(KeyboardInterrupt):
        model.encode(texts, batch_size=1)
    killer.join()
    assert time.monotonic() - began < 2.5, "the interrupt waited for the whole encode"


def test_bad_training_input(workdir, tiny_dir):
    model = simtune.SentenceTransformer(tiny_dir)
    with pytest.raises(FileNotFoundError, match="no-such.tsv: cannot open pairs file"):
        simtune.fit(model, workdir / "no-such.tsv", output=workdir / "never")
    unreadable = workdir / "unreadable"
    unreadable.mkdir(exist_ok=True)
    with pytest.raises(OSError, match="unreadable"):
        simtune.fit(model, unreadable, output=workdir / "never")
    with pytest.raises(ValueError, match='unknown loss "NoSuchLoss"'):
        simtune.fit(model, [("a", "b", 1.0)], loss="NoSuchLoss", output=workdir / "never")
    with pytest.raises(ValueError, match=r"pairs\[0\]: score 3.0 is outside \[0.0, 1.0\]"):
        simtune.fit(model, [("a", "b", 3.0)], output=workdir / "never")
    with pytest.raises(TypeError, match=r"pairs\[0\]: the loss takes a score"):
        simtune.fit(model, [("a", "b")], output=workdir / "never")
    with pytest.raises(ValueError, match="TripletLoss takes examples of 3 texts"):
        simtune.fit(model, [("a", "b")], loss="TripletLoss", output=workdir / "never")
    with pytest.raises(TypeError, match=r"pairs\[1\]"):
        simtune.fit(model, [("a", "b", 1.0), ("a", None, 1.0)], output=workdir / "never")
    with pytest.raises(ValueError, match="score"):
        simtune.fit(model, STS_DEV, output=workdir / "never")  # scores 0..5 without score_scale

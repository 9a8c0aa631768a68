"""The command line as a hostile but realistic user meets it: output to /dev/full and to a full
disk (ulimit -f), kill -9 at random moments of saves over an existing model, a hostile hub,
out-of-range options and files, NaN weights and a diverging run. Every case must end in success
or a one-line error with exit 1 or 2: no crash, no output silently lost, no damaged model
directory. Prints those three figures at the end; bounded to well under a minute."""

import json
import os
import random
import resource
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np

import oracle_common as oc
import safetensors_io
from fake_hub import FakeHub

STS_TRAIN = oc.REPO / "data" / "stsbenchmark" / "sts-train.csv"


class Tally:
    """Runs cases and counts what the issue asks for: crashes, silent losses, damaged dirs."""

    def __init__(self, args):
        self.args = args
        self.checks = oc.Checks()
        self.cases = self.crashes = self.silent = self.damaged = 0

    def run(self, argv, stdout=subprocess.PIPE, stdin=None, env=None, fsize=None, timeout=120):
        def limit():
            if fsize is not None:
                # A full disk: writes past the limit fail with EFBIG (SIGXFSZ ignored).
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        self.cases += 1
        r = subprocess.run([str(self.args.simtune), *map(str, argv)], stdout=stdout, stdin=stdin,
                           stderr=subprocess.PIPE, env=env, preexec_fn=limit, timeout=timeout)
        err = r.stderr.decode(errors="replace")
        if r.returncode < 0 or r.returncode > 2 or "unexpected error" in err or \
                "internal check" in err:
            self.crashes += 1
            self.checks.true(f"no crash: {' '.join(map(str, argv))[:120]}", False,
                             f"exit {r.returncode}: {err.strip()[:300]}")
        return r.returncode, (r.stdout or b"").decode(errors="replace"), err

    def fails(self, name, argv, code=1, text=None, **kw):
        """The case must fail with `code` and, when given, `text` in its message."""
        got, _, err = self.run(argv, **kw)
        if got == 0:
            self.silent += 1
        # One line (CLI11 adds "Run with --help" under a usage error).
        one_line = len(err.strip().splitlines()) == (2 if code == 2 else 1)
        self.checks.true(name, got == code and one_line and (text is None or text in err),
                         f"exit {got} (want {code}); stderr: {err.strip()[:300]}")

    def succeeds(self, name, argv, **kw):
        got, out, err = self.run(argv, **kw)
        self.checks.true(name, got == 0, f"exit {got}; stderr: {err.strip()[:300]}")
        return out

    def loads(self, name, model):
        """A model directory must encode (the loader checks every file and tensor)."""
        got, _, err = self.run(["encode", "--model", model, "--input", self.args.workdir / "s.txt",
                                "--output", self.args.workdir / "check.npy"])
        if got != 0:
            self.damaged += 1
        self.checks.true(name, got == 0, f"exit {got}; stderr: {err.strip()[:300]}")


def leftovers(root):
    return [p for p in Path(root).rglob("*") if ".simtune-" in p.name or ".tmp-" in p.name]


def write_failures(t, w, model):
    """/dev/full and a full disk: every write is checked, never exit 0 with output lost."""
    s = w / "s.txt"
    with open("/dev/full", "wb") as full:
        for name, argv in (
                ("encode", ["encode", "--model", model, "--input", s, "--output", "-"]),
                ("tokenize", ["tokenize", "--model", model, "--input", s]),
                ("similarity", ["similarity", "--model", model, "a", "b"]),
                ("search", ["search", "--model", model, "--corpus", s, "--query", "guitar"]),
                ("mine-paraphrases", ["mine-paraphrases", "--model", model, "--input", s]),
                ("eval", ["eval", "--model", model, "--data", w / "pairs.tsv"])):
            t.fails(f"{name} > /dev/full: exit 1 naming stdout", argv, text="<stdout>",
                    stdout=full)
    # A reader that leaves early (| head) ends the writer quietly.
    big = w / "big.txt"
    oc.write_lines(big, ["A man is playing a guitar."] * 20000)
    p = subprocess.Popen([str(t.args.simtune), "tokenize", "--model", model, "--input", big],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.read(100)
    p.stdout.close()
    err = p.stderr.read().decode()
    p.wait()
    t.cases += 1
    t.checks.true("closed pipe: quiet", err == "" and p.returncode in (0, -signal.SIGPIPE),
                  f"exit {p.returncode}: {err.strip()[:200]}")

    limit = 64 * 1024
    t.fails("encode .npy on a full disk: exit 1", ["encode", "--model", model, "--input", big,
                                                   "--output", w / "full.npy"], fsize=limit)
    t.checks.true("no partial .npy left", not (w / "full.npy").exists() and not leftovers(w))
    with open(w / "tok.jsonl", "wb") as out:
        t.fails("tokenize > file on a full disk: exit 1", ["tokenize", "--model", model,
                                                           "--input", big], stdout=out,
                fsize=limit)
    t.fails("train --log-file on a full disk: exit 1",
            ["train", "--model", model, "--train", w / "pairs.tsv", "--output", w / "full-train",
             "--log-file", w / "full-log.jsonl", "--epochs", "400", "-q"], fsize=limit)
    # The eval CSV's first row fits under 300 bytes; leave no room for it.
    (w / "csv").mkdir()
    t.fails("eval --csv-dir on a full disk: exit 1",
            ["eval", "--model", model, "--data", w / "pairs.tsv", "--csv-dir", w / "csv",
             "--name", "x"], fsize=100)
    for name, argv in (
            ("init --force", ["init", "--config", w / "tiny-config", "--out", w / "victim",
                              "--seed", "9", "--force"]),
            ("train --output EXISTING", ["train", "--model", model, "--train", w / "pairs.tsv",
                                         "--output", w / "victim", "--max-steps", "2", "-q"])):
        t.fails(f"{name} on a full disk: exit 1", argv, fsize=limit)
        t.loads(f"{name} on a full disk: the old model still loads", w / "victim")


def kills(t, w, model, rounds):
    """kill -9 at random moments of saves over an existing model: the target must load after
    every kill, and the next save clears what the killed one left."""
    rng = random.Random(8)
    runs = {
        "train --output EXISTING": ["train", "--model", model, "--train", w / "pairs.tsv",
                                    "--eval", w / "pairs.tsv", "--eval-steps", "1",
                                    "--checkpoint-steps", "1", "--checkpoint-limit", "1",
                                    "--max-steps", "6",
                                    "--output", w / "victim", "-q"],
        "init --force": ["init", "--config", w / "tiny-config", "--out", w / "victim", "--force"],
    }
    for name, argv in runs.items():
        start = time.monotonic()
        t.succeeds(f"{name}: a complete run", argv)
        duration = time.monotonic() - start
        for i in range(rounds):
            p = subprocess.Popen([str(t.args.simtune), *map(str, argv)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0, duration))
            p.send_signal(signal.SIGKILL)
            p.wait()
            t.cases += 1
            t.loads(f"{name}: loads after kill {i + 1}", w / "victim")
            for checkpoint in (w / "victim" / "checkpoints").glob("checkpoint-*"):
                t.loads(f"{name}: {checkpoint.name} loads after kill {i + 1}", checkpoint)
        t.succeeds(f"{name}: runs again after the kills", argv)
        t.checks.true(f"{name}: no temporaries left", not leftovers(w / "victim") and not [
            p for p in w.iterdir() if ".victim.simtune-" in p.name], str(leftovers(w)))
    # SIGTERM (and SIGINT) remove the temporaries on the way out.
    for sig in (signal.SIGTERM, signal.SIGINT):
        p = subprocess.Popen([str(t.args.simtune), *map(str, runs["train --output EXISTING"])],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        p.send_signal(sig)
        p.wait()
        t.cases += 1
        t.checks.true(f"{signal.Signals(sig).name}: no temporaries left",
                      not leftovers(w / "victim") and not [
                          p for p in w.iterdir() if ".victim.simtune-" in p.name])
        t.loads(f"{signal.Signals(sig).name}: the model loads", w / "victim")


def hostile_hub(t, w, model):
    """Ids, revisions and server answers that would lead outside the cache are refused."""
    cache = w / "hf" / "hub"
    cache.mkdir(parents=True)
    hub = FakeHub(model, "org/name").start()

    def env(**extra):
        e = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
        e.update(HF_HUB_CACHE=str(cache), HF_ENDPOINT=hub.url, **extra)
        return e

    def escaped():
        return [p for p in w.rglob("escaped*")]

    try:
        for revision in ("../../../../escaped_ref", "a/../../escaped", "..", "x:y", "-/.lock"):
            for offline in ("0", "1"):
                t.fails(f"revision {revision!r} (offline {offline}) refused",
                        ["encode", "--model", f"org/name@{revision}", "--input", w / "s.txt",
                         "--output", w / "x.npy"], env=env(HF_HUB_OFFLINE=offline))
        hub.served_commit = "../../../../escaped_snap"
        t.fails("X-Repo-Commit with a path refused", ["encode", "--model", "org/name",
                                                      "--input", w / "s.txt", "--output",
                                                      w / "x.npy"], text="X-Repo-Commit",
                env=env())
        hub.served_commit = "0123456789abcdef0123456789abcdef01234567"
        hub.served_etag = "../../../escaped_blob"
        t.fails("ETag with a path refused", ["encode", "--model", "org/name", "--input",
                                             w / "s.txt", "--output", w / "x.npy"], text="ETag",
                env=env())
    finally:
        hub.stop()
    t.checks.true("nothing written outside the cache", not escaped(), str(escaped()))


def range_checks(t, w, model):
    s, pairs = w / "s.txt", w / "pairs.tsv"
    base = {"encode": ["encode", "--model", model, "--input", s, "--output", w / "x.npy"],
            "train": ["train", "--model", model, "--train", pairs, "--output", w / "t", "-q"],
            "tokenize": ["tokenize", "--model", model, "--input", s],
            "mine": ["mine-paraphrases", "--model", model, "--input", s],
            "search": ["search", "--model", model, "--corpus", s, "--query", "x"]}
    usage = [("encode", "--threads", "100000"), ("encode", "--threads", "0"),
             ("encode", "--batch-size", "18446744073709551615"), ("encode", "--batch-size", "0"),
             ("encode", "--max-seq-length", "-5"), ("tokenize", "--max-seq-length", "0"),
             ("train", "--threads", "40000"), ("train", "--batch-size", "1099511627776"),
             ("train", "--epochs", "2147483647"), ("train", "--epochs", "0"),
             ("train", "--lr", "-1e-3"), ("train", "--lr", "nan"), ("train", "--lr", "inf"),
             ("train", "--warmup-ratio", "nan"), ("train", "--warmup-ratio", "-1"),
             ("train", "--warmup-ratio", "1e30"), ("train", "--dropout", "2"),
             ("train", "--dropout", "-0.5"), ("train", "--dropout", "nan"),
             ("train", "--dropout", "1"), ("train", "--max-grad-norm", "-1"),
             ("train", "--max-grad-norm", "nan"), ("train", "--score-scale", "inf"),
             ("train", "--score-scale", "0"), ("train", "--seed", "-1"),
             ("train", "--adam-eps", "0"), ("train", "--weight-decay", "-1"),
             ("train", "--max-steps", "-3"), ("train", "--checkpoint-steps", "0"),
             ("train", "--eval-steps", "-1"), ("train", "--warmup-steps", "-2"),
             ("mine", "--top-k", "18446744073709551615"), ("search", "--top-k", "0")]
    for cmd, option, value in usage:
        t.fails(f"{cmd} {option} {value}: usage error naming it", base[cmd] + [option, value],
                code=2, text=option)
    t.fails("--score-column 99999999999999999999999: names the column",
            base["train"] + ["--score-column", "99999999999999999999999"], text="column index")
    t.fails("--max-seq-length beyond the position table",
            base["encode"] + ["--max-seq-length", "100000"], text="max_position_embeddings")
    t.fails("tokenize --max-seq-length beyond the position table",
            base["tokenize"] + ["--max-seq-length", "100000"], text="max_position_embeddings")

    # config.json sizes and values, refused before anything is allocated.
    for field, value in (("vocab_size", 2 ** 27), ("hidden_size", 2 ** 30),
                         ("num_hidden_layers", 1000000), ("intermediate_size", 2 ** 29),
                         ("max_position_embeddings", 2 ** 28), ("hidden_dropout_prob", 2),
                         ("attention_probs_dropout_prob", -0.5), ("layer_norm_eps", 0),
                         ("initializer_range", -1), ("num_attention_heads", 0)):
        config = w / f"config-{field}"
        shutil.copytree(w / "tiny-config", config)
        j = json.loads((config / "config.json").read_text())
        j[field] = value
        (config / "config.json").write_text(json.dumps(j))
        start = time.monotonic()
        t.fails(f"config.json {field} {value}: refused naming it",
                ["init", "--config", config, "--out", w / f"m-{field}"], text=field)
        t.checks.true(f"config.json {field}: refused at once", time.monotonic() - start < 5)
    t.fails("init --config without a tokenizer", ["init", "--config", w / "config-only",
                                                  "--out", w / "no-tok"], text="vocab")

    # Pairs files: a BOM before the header, a score beyond double, a batch beyond the data.
    (w / "bom.tsv").write_bytes(b"\xef\xbb\xbfsentence1\tsentence2\tscore\na\tb\t0.5\nc\td\t1\n")
    t.succeeds("a UTF-8 BOM before a TSV header is skipped",
               ["train", "--model", model, "--train", w / "bom.tsv", "--output", w / "bom",
                "--max-steps", "1", "-q"])
    (w / "big.jsonl").write_text('{"sentence1": "a", "sentence2": "b", "score": 1e400}\n')
    t.fails("JSONL score 1e400: says out of range",
            base["train"][:4] + [w / "big.jsonl"] + base["train"][5:], text="out of range")
    t.succeeds("a batch larger than the data is one batch",
               ["train", "--model", model, "--train", pairs, "--output", w / "onebatch",
                "--batch-size", "1000000", "--epochs", "2", "-q"])
    card = (w / "onebatch" / "README.md").read_text()
    t.checks.true("one batch per epoch: 2 steps, epochs 2", "| steps | 2 |" in card and
                  "| epochs | 2 |" in card)

    # trainer_state.json damaged or forged.
    t.succeeds("a run with a checkpoint", base["train"][:5] + [
        "--max-steps", "4", "--checkpoint-steps", "2", "--no-shuffle", "--output", w / "ck"])
    checkpoint = w / "ck" / "checkpoints" / "checkpoint-2"
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    for name, change in (("step -5", {"step": -5}), ("step 1e18", {"step": 10 ** 18}),
                         ("rng garbage", {"dropout_rng": ["x", "1", "2", "3"]}),
                         ("rng short", {"dropout_rng": ["1"]}), ("step string", {"step": "2"}),
                         ("step past the run", {"step": 50, "adam_steps": 50})):
        forged = w / f"forged-{name.replace(' ', '-')}"
        shutil.copytree(checkpoint, forged)
        (forged / "trainer_state.json").write_text(json.dumps({**state, **change}))
        t.fails(f"--resume with {name}: refused naming the checkpoint",
                base["train"] + ["--max-steps", "4", "--no-shuffle", "--resume", forged],
                text=forged.name)
    t.fails("--output that is a file", base["train"][:5] + ["--output", s, "--max-steps", "1"],
            text=str(s))


def broken_weights(t, w, model):
    tensors = safetensors_io.load_f32(model / "model.safetensors")
    for value in (np.nan, np.inf):
        bad = w / f"bad-{value}"
        shutil.copytree(model, bad)
        broken = dict(tensors)
        name = "encoder.layer.1.output.dense.weight"
        broken[name] = broken[name].copy()
        broken[name][3, 5] = value
        safetensors_io.save(bad / "model.safetensors", broken)
        t.fails(f"{value} in a tensor: refused naming it",
                ["similarity", "--model", bad, "a", "b"], text=name)
    # Finite weights whose embeddings are all equal: correlations are NaN, with a warning.
    zero = w / "zero"
    shutil.copytree(model, zero)
    safetensors_io.save(zero / "model.safetensors",
                        {k: np.zeros_like(v) for k, v in tensors.items()})
    code, out, err = t.run(["eval", "--model", zero, "--data", w / "pairs.tsv", "--json"])
    metrics = json.loads(out) if code == 0 else {}
    t.checks.true("constant embeddings: Spearman NaN (null) with a warning",
                  code == 0 and "spearman_cosine" in metrics and metrics["spearman_cosine"] is None and "warning" in err,
                  f"exit {code}: {out.strip()} {err.strip()[:200]}")
    code, out, err = t.run(["encode", "--model", zero, "--input", w / "s.txt", "--output", "-",
                            "--normalize"])
    rows = [json.loads(line) for line in out.splitlines()] if code == 0 else []
    t.checks.true("NaN embeddings in JSONL are valid JSON (null)", bool(rows), err.strip()[:200])

    # A diverging run stops at the first non-finite value and points at a finite checkpoint.
    code, _, err = t.run(["train", "--model", model, "--train", STS_TRAIN, "--score-scale", "5",
                          "--output", w / "diverge", "--lr", "1e6", "--checkpoint-steps", "1",
                          "--max-steps", "30", "--batch-size", "4", "-q"])
    if code == 0:
        t.silent += 1
    t.checks.true("divergence: exit 1 naming the cause", code == 1 and "--lr" in err, err.strip())
    for checkpoint in sorted((w / "diverge" / "checkpoints").glob("checkpoint-*")):
        t.loads(f"divergence: {checkpoint.name} is finite", checkpoint)
    named = [p for p in (w / "diverge" / "checkpoints").glob("checkpoint-*") if str(p) in err]
    t.checks.true("divergence: the message names the last finite checkpoint",
                  bool(named) or "no checkpoint" in err, err.strip())


def main():
    args = oc.parse_args(__doc__.splitlines()[0])
    w = args.workdir
    t = Tally(args)
    config = oc.tiny_config_dir(w)
    model = w / "model"
    oc.run([args.simtune, "init", "--config", config, "--seed", "0", "--out", model])
    oc.run([args.simtune, "init", "--config", config, "--seed", "1", "--out", w / "victim"])
    (w / "config-only").mkdir()
    (w / "config-only" / "config.json").write_bytes((config / "config.json").read_bytes())
    oc.write_lines(w / "s.txt", ["A man is playing a guitar.", "Someone plays guitar.", "héllo",
                                 "A dog runs.", "Dogs run."])
    oc.write_lines(w / "pairs.tsv", ["A man plays.\tSomeone plays.\t0.9",
                                     "A dog runs.\tA cat sleeps.\t0.1",
                                     "It rains.\tThe sun shines.\t0.2",
                                     "Kids laugh.\tChildren laugh.\t1.0"])
    start = time.monotonic()
    write_failures(t, w, model)
    kills(t, w, model, rounds=int(os.environ.get("SIMTUNE_KILL_ROUNDS", "10")))
    hostile_hub(t, w, model)
    range_checks(t, w, model)
    broken_weights(t, w, model)
    print(f"cases tried {t.cases}, crashes {t.crashes}, silent losses {t.silent}, "
          f"damaged directories {t.damaged} ({time.monotonic() - start:.0f} s)")
    t.checks.finish()


if __name__ == "__main__":
    main()

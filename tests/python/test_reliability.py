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
             ("train", "--max-steps", "-3"), ("train", "--checkpoint-steps", "-1"),
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


def npy_bytes(header, data=b"", version=1):
    """A .npy file with this header dict text (padded as numpy pads it) and raw data."""
    h = header.encode("latin1")
    prefix = 10 if version == 1 else 12
    h += b" " * (-(prefix + len(h) + 1) % 64) + b"\n"
    size = len(h).to_bytes(2 if version == 1 else 4, "little")
    return b"\x93NUMPY" + bytes([version, 0]) + size + h + data


def newer_inputs(t, w, model):
    """What came after the first round: the training options of the newer losses and
    evaluators, serve's limits, the teacher .npy, IR files, the newer outputs and the Python
    facade, each refused at the edge with the option or file:line named."""
    s, pairs = w / "s.txt", w / "pairs.tsv"
    train = ["train", "--model", model, "--train", pairs, "--output", w / "n", "-q",
             "--max-steps", "1"]
    serve = ["serve", "--model", model, "--port", "0"]
    usage = [(train, "--mini-batch-size", "0"), (train, "--mini-batch-size", "-1"),
             (train, "--mini-batch-size", "18446744073709551616"),
             (train, "--batch-size", "-1"), (train, "--batch-size", "1e3"),
             (train, "--seed", "-1"), (train, "--seed", "18446744073709551616"),
             (train, "--seed", "x"), (train, "--epochs", "99999999999"),
             (train, "--checkpoint-steps", "-1"), (train, "--checkpoint-limit", "0"),
             (train, "--lr", "1e39"), (train, "--lr", "x"), (train, "--adam-eps", "nan"),
             (train, "--matryoshka-dims", "0"), (train, "--matryoshka-dims", "-4"),
             (train, "--matryoshka-dims", "16,x"),
             (train + ["--matryoshka-dims", "16"], "--matryoshka-weights", "nan"),
             (train + ["--matryoshka-dims", "16"], "--matryoshka-weights", "1,2"),
             (train, "--matryoshka-weights", "1"),
             (train, "--loss", "NoSuchLoss"), (train, "--batch-sampler", "x"),
             (serve, "--max-concurrent-requests", "100000"),
             (serve, "--max-concurrent-requests", "0"),
             (serve, "--max-concurrent-requests", "-1"),
             (serve, "--max-batch-tokens", "0"), (serve, "--max-batch-tokens", "1e18"),
             (serve, "--max-batch-tokens", "18446744073709551616"),
             (serve, "--max-batch-requests", "-1"), (serve, "--max-client-batch-size", "0"),
             (serve, "--payload-limit", "0"), (serve, "--payload-limit", "99999999999999"),
             (serve, "--request-timeout", "nan"), (serve, "--request-timeout", "inf"),
             (serve, "--request-timeout", "0"), (serve[:-2], "--port", "70000"),
             (serve[:-2], "--port", "-1"), (serve, "--threads", "100000"),
             (["encode", "--model", model, "--input", s, "--output", w / "x.npy"],
              "--dimensions", "0"),
             (["encode", "--model", model, "--input", s, "--output", w / "x.npy"],
              "--dimensions", "-1"),
             (["bench", "ir"], "--queries", "0"), (["bench", "ir"], "--dimension", "nan"),
             (["eval", "--model", model, "--data", pairs], "--evaluator", "x")]
    for base, option, value in usage:
        # A limit that is not checked would start the server: the timeout stops it.
        t.fails(f"{base[0]} {option} {value}: usage error naming it", base + [option, value],
                code=2, text=option, timeout=30)
    t.fails("bench ir beyond memory: names the options",
            ["bench", "ir", "--queries", 16777216, "--corpus", 16777216, "--dimension", 16384],
            code=2, text="--dimension")

    # Values the library takes: Matryoshka dimensions unsorted and repeated (each a term of
    # the sum); beyond the model's embedding they are refused when training starts.
    t.succeeds("--matryoshka-dims unsorted and repeated: accepted as the library does",
               train + ["--matryoshka-dims", "8,32,16,16"])
    t.fails("--matryoshka-dims beyond the model", train + ["--matryoshka-dims", "64"],
            text="64")
    # As sentence-transformers' truncate_dim: more than the model has keeps every value.
    t.succeeds("encode --dimensions beyond the model: the whole embedding",
               ["encode", "--model", model, "--input", s, "--output", w / "wide.npy",
                "--dimensions", "1000"])
    t.checks.true("--dimensions 1000 of a 32-wide model: 32 columns",
                  (w / "wide.npy").exists() and np.load(w / "wide.npy").shape == (5, 32))
    t.fails("--prompt and --prompt-name together",
            ["encode", "--model", model, "--input", s, "--output", w / "x.npy", "--prompt", "a",
             "--prompt-name", "query"], code=2, text="--prompt")
    t.fails("--prompt-name the model lacks",
            ["encode", "--model", model, "--input", s, "--output", w / "x.npy",
             "--prompt-name", "nosuch"], text="nosuch")

    # N-column files read in the loss's shape.
    for extra, text in ((["--loss", "MultipleNegativesRankingLoss", "--negative-columns", "99"],
                         "pairs.tsv:1"),
                        (["--loss", "MultipleNegativesRankingLoss", "--negative-columns", "0"],
                         "pairs.tsv:1"),
                        (["--text-a-column", "nosuch"], "nosuch"),
                        (["--loss", "TripletLoss"], "3 texts"),
                        (["--loss", "MSELoss"], "teacher"),
                        (["--teacher-embeddings", w / "s.txt"], "MSELoss")):
        t.fails(f"train {' '.join(map(str, extra))}: refused", train + extra, text=text)

    # Teacher embeddings for MSELoss: one float row per training example, the model's width.
    mse = train + ["--loss", "MSELoss", "--teacher-embeddings"]
    good = np.ones((4, 32), dtype=np.float32)
    np.save(w / "teacher.npy", good)
    t.succeeds("a valid teacher .npy", mse + [w / "teacher.npy"])
    raw = good.tobytes()
    cases = {
        "empty": b"",
        "garbage": b"not a numpy file at all",
        "truncated header": npy_bytes("{'descr': '<f4', 'fortran_order': False, "
                                      "'shape': (4, 32), }")[:30],
        "truncated data": npy_bytes("{'descr': '<f4', 'fortran_order': False, "
                                    "'shape': (4, 32), }", raw[:-4]),
        "int32": npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (4, 32), }", raw),
        "big-endian": npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (4, 32), }",
                                raw),
        "fortran order": npy_bytes("{'descr': '<f4', 'fortran_order': True, "
                                   "'shape': (4, 32), }", raw),
        "1-D": npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (128,), }", raw),
        "3-D": npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4, 8), }", raw),
        "rows of another data set": npy_bytes("{'descr': '<f4', 'fortran_order': False, "
                                              "'shape': (2, 64), }", raw),
        "width of another model": npy_bytes("{'descr': '<f4', 'fortran_order': False, "
                                            "'shape': (4, 16), }", raw[:256]),
        "shape beyond 64 bits": npy_bytes("{'descr': '<f4', 'fortran_order': False, "
                                          "'shape': (4294967296, 4294967296), }", raw),
        "huge header length": b"\x93NUMPY\x02\x00\xff\xff\xff\xff" + raw,
        "version 9": b"\x93NUMPY\x09\x00" + raw,
        "NaN value": npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 32), }",
                               np.where(np.arange(128) == 77, np.nan, 1).astype("<f4")
                               .tobytes()),
        "float64 beyond float32": npy_bytes("{'descr': '<f8', 'fortran_order': False, "
                                            "'shape': (4, 32), }",
                                            np.full(128, 1e300).astype("<f8").tobytes()),
    }
    for name, data in cases.items():
        path = w / f"teacher-{name.replace(' ', '-')}.npy"
        path.write_bytes(data)
        t.fails(f"teacher .npy {name}: refused naming the file", mse + [path], text=path.name)

    # IR sets: queries and corpus id<TAB>text, qrels query_id<TAB>doc_id.
    ir = w / "ir"
    ir.mkdir()
    (ir / "q.tsv").write_text("q1\tA man plays.\nq2\tA dog runs.\n")
    (ir / "c.tsv").write_text("d1\tSomeone plays.\nd2\tA cat sleeps.\nd3\tDogs run.\n")
    (ir / "r.tsv").write_text("q1\td1\nq2\td3\n")

    def ir_eval(queries="q.tsv", corpus="c.tsv", qrels="r.tsv", *extra):
        return ["eval", "--model", model, "--evaluator", "ir", "--queries", ir / queries,
                "--corpus", ir / corpus, "--qrels", ir / qrels, *extra]

    t.succeeds("a valid IR set", ir_eval())
    (ir / "bom.tsv").write_bytes(b"\xef\xbb\xbfq1\tA man plays.\r\nq2\tA dog runs.\r\n")
    t.succeeds("IR queries with a BOM and CRLF", ir_eval("bom.tsv"))
    bad = {"no tab": ("q.tsv", "q1\tA man plays.\nq2 A dog runs.\n", "q.tsv:2"),
           "empty id": ("q.tsv", "q1\tA man plays.\n\tA dog runs.\n", "q.tsv:2"),
           "duplicate query": ("q.tsv", "q1\tA man plays.\nq1\tA dog runs.\n", "q.tsv:2"),
           "duplicate document": ("c.tsv", "d1\tx\nd2\ty\nd1\tz\n", "c.tsv:3"),
           "blank line": ("c.tsv", "d1\tx\n\nd3\tz\n", "c.tsv:2"),
           "invalid UTF-8": ("c.tsv", b"d1\tx\nd3\t\xff\n", "c.tsv:2"),
           "unknown query": ("r.tsv", "q1\td1\nq9\td3\n", "r.tsv:2"),
           "unknown document": ("r.tsv", "q1\td1\nq2\td9\n", "r.tsv:2"),
           "three columns": ("r.tsv", "q1\td1\t1\n", "r.tsv:1"),
           "BEIR header": ("r.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\n", "r.tsv:1"),
           "empty qrels": ("r.tsv", "", "r.tsv"),
           "empty corpus": ("c.tsv", "", "c.tsv")}
    for name, (which, text, where) in bad.items():
        case = ir / name.replace(" ", "-")
        case.mkdir()
        for f in ("q.tsv", "c.tsv", "r.tsv"):
            shutil.copy(ir / f, case / f)
        content = text.encode() if isinstance(text, str) else text
        (case / which).write_bytes(content)
        rel = case.name
        t.fails(f"IR {name}: refused naming {where}",
                ir_eval(f"{rel}/q.tsv", f"{rel}/c.tsv", f"{rel}/r.tsv"),
                text=f"{rel}/{where}")
        if name in ("duplicate query", "unknown document", "empty qrels"):
            # The same reader: a few cases show train refuses them before training.
            t.fails(f"train --ir-* {name}: refused before training",
                    train + ["--ir-queries", case / "q.tsv", "--ir-corpus", case / "c.tsv",
                             "--ir-qrels", case / "r.tsv"], text=f"{rel}/{where}")
    t.fails("--ir-queries without --ir-corpus", train + ["--ir-queries", ir / "q.tsv"], code=2,
            text="--ir-corpus")
    t.fails("eval ir without --qrels", ["eval", "--model", model, "--evaluator", "ir",
                                        "--queries", ir / "q.tsv", "--corpus", ir / "c.tsv"],
            code=2, text="--qrels")
    (w / "labels.tsv").write_text("a\tb\t1\nc\td\t2\n")
    t.fails("binary labels outside 0/1: names file:line",
            ["eval", "--model", model, "--evaluator", "binary", "--data", w / "labels.tsv"],
            text="labels.tsv:2")
    (w / "trip.tsv").write_text("a\tb\tc\nd\te\n")
    t.fails("a triplet row of two texts: names file:line",
            ["eval", "--model", model, "--evaluator", "triplet", "--data", w / "trip.tsv"],
            text="trip.tsv:2")
    # Metric names are known once the evaluators have run: refused at the evaluation before
    # training (its progress line comes first), nothing trained or saved.
    code, _, err = t.run(["train", "--model", model, "--train", pairs, "--output", w / "metric",
                          "-q", "--eval", pairs, "--metric-for-best-model", "eval_nosuch"])
    if code == 0:
        t.silent += 1
    t.checks.true("--metric-for-best-model naming no metric: refused before training",
                  code == 1 and "eval_nosuch" in err.splitlines()[-1] and "trained" not in err
                  and not (w / "metric" / "model.safetensors").exists(), err.strip()[-300:])

    # Newer outputs: every write checked.
    (w / "trip.tsv").write_text("a\tb\tc\nd\te\tf\n")
    (w / "labels.tsv").write_text("a\tb\t1\nc\td\t0\n")
    evals = {"ir": ir_eval(),
             "binary": ["eval", "--model", model, "--evaluator", "binary", "--data",
                        w / "labels.tsv"],
             "triplet": ["eval", "--model", model, "--evaluator", "triplet", "--data",
                         w / "trip.tsv"]}
    with open("/dev/full", "wb") as full:
        for name, argv in evals.items():
            t.fails(f"eval {name} > /dev/full: exit 1 naming stdout", argv + ["--json"],
                    text="<stdout>", stdout=full)
        t.fails("encode --dimensions > /dev/full", ["encode", "--model", model, "--input", s,
                                                   "--output", "-", "--dimensions", "8"],
                text="<stdout>", stdout=full)
        t.fails("bench ir --json > /dev/full",
                ["bench", "ir", "--queries", 8, "--corpus", 64, "--dimension", 8, "--json"],
                text="<stdout>", stdout=full)
    for name, argv in evals.items():
        csv = w / f"csv-{name}"
        csv.mkdir()
        t.fails(f"eval {name} --csv-dir on a full disk: exit 1",
                argv + ["--csv-dir", csv, "--name", "x"], fsize=100)
        t.fails(f"eval {name} --csv-dir that is a file", argv + ["--csv-dir", s, "--name", "x"],
                text=str(s))
    t.fails("encode --dimensions .npy on a full disk",
            ["encode", "--model", model, "--input", w / "big.txt", "--output", w / "d.npy",
             "--dimensions", "8"], fsize=16 * 1024)
    t.checks.true("no partial .npy left", not (w / "d.npy").exists())
    python_facade(t, w, model)


def python_facade(t, w, model):
    """simtune.fit refuses what the CLI refuses, as ValueError naming the keyword, before it
    reads a file (the train file here does not exist)."""
    package = t.args.simtune.resolve().parent / "python"
    if not (package / "simtune").is_dir():
        t.checks.true("the Python package is built beside simtune", False, str(package))
        return
    cases = [("batch_size", 0), ("batch_size", -1), ("batch_size", 2 ** 64),
             ("epochs", 0), ("epochs", 2 ** 40), ("lr", float("nan")), ("lr", -1e-3),
             ("lr", float("inf")), ("warmup_ratio", 2.0), ("warmup_steps", -2),
             ("weight_decay", -1), ("max_grad_norm", 0), ("adam_eps", 0), ("seed", -1),
             ("max_steps", 0), ("dropout", 1.0), ("dropout", -0.5), ("eval_steps", -1),
             ("checkpoint_steps", -1), ("checkpoint_limit", 0), ("mini_batch_size", 0),
             ("matryoshka_dims", [0]), ("matryoshka_weights", [1.0]),
             ("loss", "NoSuchLoss"), ("num_labels", -1), ("score_scale", 0),
             ("score_scale", float("inf"))]
    script = f"""
import json, sys
import simtune
model = simtune.SentenceTransformer({str(model)!r})
out = []
for name, value in json.loads(sys.argv[1]):
    try:
        simtune.fit(model, {str(w / 'no-such.tsv')!r}, output={str(w / 'py-out')!r},
                    **{{name: value}})
        out.append([name, "accepted"])
    except ValueError as e:
        out.append([name, "ValueError: " + str(e)])
    except Exception as e:
        out.append([name, type(e).__name__ + ": " + str(e)])
out.append(["matryoshka", None])
try:
    simtune.fit(model, {str(w / 'no-such.tsv')!r}, output={str(w / 'py-out')!r},
                matryoshka_dims=[16], matryoshka_weights=[1.0, 2.0])
except ValueError as e:
    out[-1][1] = "ValueError: " + str(e)
print(json.dumps(out))
"""
    env = dict(os.environ, PYTHONPATH=str(package), OMP_WAIT_POLICY="passive")
    r = subprocess.run(["/usr/bin/python3", "-c", script, json.dumps(cases)],
                       capture_output=True, text=True, env=env, timeout=120)
    results = json.loads(r.stdout) if r.returncode == 0 else []
    t.checks.true("the Python cases ran", len(results) == len(cases) + 1, r.stderr[-500:])
    for (name, value), (_, got) in zip(cases + [("matryoshka_weights", "[1, 2]")], results):
        t.cases += 1
        if got == "accepted":
            t.silent += 1
        t.checks.true(f"fit({name}={value!r}): ValueError naming it",
                      got.startswith(f"ValueError: {name}"), got)


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
    newer_inputs(t, w, model)
    print(f"cases tried {t.cases}, crashes {t.crashes}, silent losses {t.silent}, "
          f"damaged directories {t.damaged} ({time.monotonic() - start:.0f} s)")
    t.checks.finish()


if __name__ == "__main__":
    main()

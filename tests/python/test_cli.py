"""End-to-end checks of the simtune command line on a tiny random model: exit codes and one-line
errors for bad input, output formats, and training's determinism, resume and failure paths."""
import json
import shutil
import subprocess

import numpy as np

import oracle_common as oc
import safetensors_io

STS_TRAIN = oc.REPO / "data" / "stsbenchmark" / "sts-train.csv"


def simtune(args, *argv, input_bytes=None):
    result = subprocess.run([str(args.simtune), *map(str, argv)], input=input_bytes,
                            capture_output=True)
    return result.returncode, result.stdout.decode(errors="replace"), result.stderr.decode(errors="replace")


def expect(checks, name, code, want_code, stderr="", want_text=None):
    ok = code == want_code and (want_text is None or want_text in stderr)
    checks.true(name, ok, f"exit {code} (want {want_code}); stderr: {stderr.strip()[:200]}")


def check_inference(args, checks, model):
    w = args.workdir
    code, _, err = simtune(args)
    expect(checks, "no subcommand is a usage error", code, 2, err)
    code, out, _ = simtune(args, "encode", "--help")
    checks.true("encode --help", code == 0 and "--batch-size" in out)

    bad = w / "bad.txt"
    bad.write_bytes(b"fine line\nanother\nbroken \xff\xfe bytes\n")
    code, _, err = simtune(args, "encode", "--model", model, "--input", bad, "--output", w / "bad.npy")
    expect(checks, "invalid UTF-8 names file and line", code, 1, err, f"{bad}:3: not valid UTF-8")
    code, _, err = simtune(args, "encode", "--model", model, "--input", bad, "--output",
                           w / "replaced.npy", "--replace-invalid-utf8")
    checks.true("--replace-invalid-utf8 encodes every line",
                code == 0 and np.load(w / "replaced.npy").shape == (3, 32), err.strip())

    empty = w / "empty.txt"
    empty.write_text("")
    code, _, err = simtune(args, "encode", "--model", model, "--input", empty, "--output", w / "empty.npy")
    checks.true("empty input gives empty output", code == 0 and np.load(w / "empty.npy").shape == (0, 32), err)

    lines = ["A man is playing a guitar.", "", "   ", "Ein Mann spielt Gitarre."]
    text = "\n".join(lines) + "\n"
    code, _, err = simtune(args, "encode", "--model", model, "--output", w / "stdin.npy",
                           input_bytes=text.encode())
    npy = np.load(w / "stdin.npy") if code == 0 else None
    code2, out, _ = simtune(args, "encode", "--model", model, "--output", "-", input_bytes=text.encode())
    rows = [json.loads(line)["embedding"] for line in out.splitlines()]
    checks.true("stdin, .npy and JSONL agree", code == 0 and code2 == 0 and
                np.array_equal(npy, np.asarray(rows, dtype=np.float32)), err)
    code, out, _ = simtune(args, "similarity", "--model", model, lines[0], lines[3])
    checks.true("similarity prints a cosine", code == 0 and -1.0 <= float(out) <= 1.0, out.strip())
    checks.true("similarity matches encode", abs(float(out) - cosine(npy[0], npy[3])) < 1e-5)

    code, _, err = simtune(args, "encode", "--model", w / "nowhere", "--input", empty, "--output", w / "x.npy")
    expect(checks, "missing model directory", code, 1, err, "nowhere")
    broken = w / "broken-model"
    shutil.copytree(model, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    code, _, err = simtune(args, "encode", "--model", broken, "--input", empty, "--output", w / "x.npy")
    expect(checks, "truncated safetensors is rejected", code, 1, err, "model.safetensors")
    code, _, err = simtune(args, "encode", "--model", model, "--input", empty, "--output", w / "x.bin")
    expect(checks, "unknown output format", code, 1, err, "x.bin")


def cosine(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def train(args, model, out, *extra):
    return simtune(args, "train", "--model", model, "--train", args.workdir / "train.tsv", "--output",
                   out, "--score-scale", 5, "--batch-size", 8, "--quiet", *extra)


def weights_bytes(model_dir):
    return (model_dir / "model.safetensors").read_bytes()


def check_training(args, checks, model):
    w = args.workdir
    oc.write_lines(w / "train.tsv", STS_TRAIN.read_text(encoding="utf-8").splitlines()[:64])
    # 64 pairs / batch 8 = 8 steps an epoch; dropout (config.json's 0.1) and shuffling stay on.
    code, _, err = train(args, model, w / "straight", "--epochs", 2, "--checkpoint-steps", 8,
                         "--log-file", w / "straight.jsonl")
    checks.true("train 2 epochs", code == 0, err.strip())
    log = oc.read_jsonl((w / "straight.jsonl").read_text())
    checks.true("log has one line per step", [r["step"] for r in log] == list(range(1, 17)))
    checks.true("first step runs at lr 0 (warmup)", log[0]["lr"] == 0.0 and log[2]["lr"] > 0)
    code, _, err = train(args, model, w / "again", "--epochs", 2)
    checks.true("same seed gives bit-identical weights",
                code == 0 and weights_bytes(w / "straight") == weights_bytes(w / "again"), err.strip())
    code, _, err = train(args, model, w / "other-seed", "--epochs", 2, "--seed", 7)
    checks.true("another seed gives other weights",
                code == 0 and weights_bytes(w / "straight") != weights_bytes(w / "other-seed"), err.strip())

    checkpoint = w / "straight" / "checkpoints" / "checkpoint-8"
    code, _, err = train(args, model, w / "resumed", "--epochs", 2, "--resume", checkpoint)
    checks.true("1 epoch + resume equals 2 epochs straight, bit for bit",
                code == 0 and weights_bytes(w / "straight") == weights_bytes(w / "resumed"), err.strip())

    trained = safetensors_io.load_f32(w / "straight" / "model.safetensors")
    initial = safetensors_io.load_f32(model / "model.safetensors")
    checks.true("pooler saved untouched",
                all(np.array_equal(trained[k], initial[k]) for k in initial if k.startswith("pooler.")))
    checks.true("model card written", "CosineSimilarityLoss" in (w / "straight" / "README.md").read_text())

    code, _, err = train(args, model, w / "diverged", "--epochs", 1, "--lr", "1e30",
                         "--warmup-steps", 0, "--checkpoint-steps", 1)
    expect(checks, "NaN/inf stops training naming the step", code, 1, err, "step 2:")
    checks.true("the last good checkpoint stays", (w / "diverged" / "checkpoints" / "checkpoint-1").is_dir())

    dev = w / "dev.tsv"
    oc.write_lines(dev, (oc.REPO / "data" / "stsbenchmark" / "sts-dev.csv").read_text(encoding="utf-8").splitlines()[:100])
    code, out, err = train(args, model, w / "with-eval", "--epochs", 2, "--eval", dev, "--eval-steps", 3,
                           "--test", dev, "--test-name", "again", "--log-file", w / "eval.jsonl")
    checks.true("train with --eval/--test", code == 0, err.strip()[-300:])
    rows = (w / "with-eval" / "eval" / "similarity_evaluation_dev_results.csv").read_text().splitlines()
    # Rows: before training; steps 3, 6, 9, 12, 15 (--eval-steps 3); the ends of epochs 1 and 2.
    checks.true("dev CSV: sentence-transformers header, rows before, during and after epochs",
                rows[0].startswith("epoch,steps,cosine_pearson,cosine_spearman,euclidean_pearson")
                and rows[1].startswith("-1,-1,") and len(rows) == 1 + 8, f"{len(rows)} lines")
    logged = [r for r in oc.read_jsonl((w / "eval.jsonl").read_text()) if r.get("eval") == "dev"]
    best = max(r["spearman_cosine"] for r in logged)
    saved = json.loads(oc.run([args.simtune, "eval", "--model", w / "with-eval", "--data", dev,
                               "--score-scale", 5, "--json"]))
    checks.true("the saved model is the best one on dev", saved["spearman_cosine"] == best,
                f"saved {saved['spearman_cosine']}, best logged {best}")
    tested = [r for r in oc.read_jsonl((w / "eval.jsonl").read_text()) if r.get("eval") == "again"]
    checks.true("test evaluation scores the saved model",
                len(tested) == 1 and tested[0]["spearman_cosine"] == saved["spearman_cosine"])

    # The log's pairs/s counts the steps alone: evaluating 15,000 dev pairs (before training and
    # after each step here) takes the tiny model about a second, a step of 8 pairs milliseconds;
    # counting an evaluation gives under 10 pairs/s.
    big_dev = w / "dev-x10.tsv"
    oc.write_lines(big_dev, (oc.REPO / "data" / "stsbenchmark" / "sts-dev.csv").read_text(encoding="utf-8").splitlines() * 10)
    code, _, err = train(args, model, w / "rate", "--max-steps", 2, "--eval", big_dev, "--eval-steps", 1,
                         "--log-file", w / "rate.jsonl")
    rates = [r["pairs_per_s"] for r in oc.read_jsonl((w / "rate.jsonl").read_text()) if "pairs_per_s" in r]
    checks.true("pairs/s leaves out the evaluations before and between steps",
                code == 0 and len(rates) == 2 and min(rates) > 30, f"exit {code}, {rates}, {err.strip()[-200:]}")

    bad = w / "bad-rows.tsv"
    bad.write_text("a\tb\t0.5\nc\td\tseven\n")
    code, _, err = simtune(args, "train", "--model", model, "--train", bad, "--output", w / "bad-out")
    expect(checks, "bad training row names file and line", code, 1, err, f"{bad}:2: score")
    code, _, err = simtune(args, "train", "--model", model, "--train", bad, "--output", w / "skip-out",
                           "--skip-bad-rows", "--quiet", "--max-steps", 1)
    expect(checks, "--skip-bad-rows counts and continues", code, 0, err, "skipped 1 bad rows")
    check_loss_options(args, checks, model)


def check_loss_options(args, checks, model):
    """--loss and its data: the wrong number of texts per example, a label out of the loss's
    range, MSELoss without teachers and Matryoshka dimensions past the model's are one-line
    errors (exit 1), option misuse is a usage error (exit 2); each loss runs a step."""
    w = args.workdir
    triplets = w / "triplets.tsv"
    triplets.write_text("anchor\tpositive\tnegative\na man\ta person\ta car\n"
                        "rain\tit rains\tsun\nshort\tlong\n")
    code, _, err = simtune(args, "train", "--model", model, "--train", triplets, "--output",
                           w / "t-out", "--loss", "TripletLoss")
    expect(checks, "a short triplet row names file and line", code, 1, err,
           f"{triplets}:4: expected at least 3 fields, found 2")
    code, _, err = train(args, model, w / "t-out", "--loss", "TripletLoss")
    expect(checks, "TripletLoss refuses pairs", code, 1, err,
           "TripletLoss takes examples of 3 texts; the data has 2 per example")
    labels = w / "labels.tsv"
    labels.write_text("sentence1\tsentence2\tlabel\na\tb\t1\nc\td\t2\n")
    code, _, err = simtune(args, "train", "--model", model, "--train", labels, "--output", w / "c-out",
                           "--loss", "ContrastiveLoss")
    expect(checks, "a label outside the loss's range names file and line", code, 1, err,
           f"{labels}:3: score 2 is outside [0, 1]")
    code, _, err = train(args, model, w / "m-out", "--loss", "MSELoss")
    expect(checks, "MSELoss without teacher embeddings", code, 1, err, "needs teacher embeddings")
    code, _, err = train(args, model, w / "m-out", "--matryoshka-dims", "64,16")
    expect(checks, "a Matryoshka dimension past the model's", code, 1, err,
           "Matryoshka dimension 64 is outside the model's 1..32")
    code, _, err = train(args, model, w / "m-out", "--matryoshka-dims", "16,8",
                         "--matryoshka-weights", "1")
    expect(checks, "one Matryoshka weight per dimension", code, 2, err, "--matryoshka-weights")
    code, _, err = train(args, model, w / "m-out", "--loss", "NoSuchLoss")
    expect(checks, "an unknown loss is a usage error", code, 2, err, "NoSuchLoss")
    for loss, extra in (("MultipleNegativesRankingLoss", ["--batch-sampler", "no_duplicates"]),
                        ("CachedMultipleNegativesRankingLoss", ["--mini-batch-size", 5]),
                        ("MultipleNegativesSymmetricRankingLoss", ["--matryoshka-dims", "32,16"]),
                        ("CoSENTLoss", []), ("AnglELoss", []), ("OnlineContrastiveLoss", [])):
        code, _, err = train(args, model, w / "loss-out", "--loss", loss, "--max-steps", 1, *extra)
        expect(checks, f"--loss {loss} {' '.join(map(str, extra))} runs a step", code, 0, err)
    code, _, err = simtune(args, "train", "--model", model, "--train", triplets, "--output",
                           w / "loss-out", "--loss", "TripletLoss", "--skip-bad-rows",
                           "--max-steps", 1, "--quiet")
    expect(checks, "--loss TripletLoss runs a step", code, 0, err)


def main():
    args = oc.parse_args(__doc__)
    checks = oc.Checks()
    model = args.workdir / "tiny"
    oc.run([args.simtune, "init", "--config", oc.tiny_config_dir(args.workdir), "--seed", 3, "--out", model])
    check_inference(args, checks, model)
    check_training(args, checks, model)
    checks.finish()


if __name__ == "__main__":
    main()

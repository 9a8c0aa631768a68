#!/usr/bin/python3
"""simtune's trainer vs the PyTorch training reference (scripts/oracle/train_reference.py), fp32,
dropout off, on paraphrase-MiniLM-L6-v2's config with random weights (`simtune init --seed 0`)
and the STS benchmark's training pairs in file order. Token ids come from `simtune tokenize`
(tested elsewhere), so these checks see the model, loss and optimizer alone.

(a) Gradients of the first batch of 16 pairs (simtune_grad_dump) against torch autograd: every
    tensor within 1e-3 * its largest reference element, the loss within 1e-5 relative.
(b) 50 steps of `simtune train` against the reference's 50 steps: per-step loss within 1e-4
    relative, lr and gradient norm per step, final weights within 1e-4, pooler bit-for-bit.
(c) The trained model directory loads in the reference and embeds STS sentences as
    `simtune encode` does, within 1e-5.
"""

import argparse
import os
import shutil
import time
from pathlib import Path

import numpy as np
import torch

import oracle_common as oc
import bert_reference  # scripts/oracle, put on sys.path by oracle_common
import safetensors_io
import train_reference

STS_TRAIN = oc.REPO / "data" / "stsbenchmark" / "sts-train.csv"
SCORE_SCALE = 5.0
BATCH_SIZE = 16
STEPS = 50
GRAD_TOLERANCE = 1e-3    # of the tensor's largest reference element
LOSS_TOLERANCE = 1e-5    # relative, one batch
STEP_LOSS_TOLERANCE = 1e-4  # relative, every step
GRAD_NORM_TOLERANCE = 1e-3  # relative
LR_TOLERANCE = 1e-6      # relative: simtune may log a float32 lr
WEIGHT_TOLERANCE = 1e-4  # absolute, after 50 steps
EMBED_TOLERANCE = 1e-5   # absolute
EMBED_SENTENCES = 50
WORST_SHOWN = 5


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--simtune", required=True, type=Path, help="the simtune binary")
    parser.add_argument("--grad-dump", required=True, type=Path, help="the simtune_grad_dump test tool")
    parser.add_argument("--activation-dump", type=Path, help="unused: ctest passes it to every oracle test")
    parser.add_argument("--workdir", required=True, type=Path, help="scratch directory (recreated)")
    args = parser.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    return args


def tokenize_pairs(args, model_dir, pairs):
    """(ids of every text_a, ids of every text_b) from one `simtune tokenize` run."""
    texts = args.workdir / "pair-texts.txt"
    oc.write_lines(texts, [a for a, _, _ in pairs] + [b for _, b, _ in pairs])
    ids = [row["ids"] for row in oc.read_jsonl(oc.run(
        [args.simtune, "tokenize", "--model", model_dir, "--input", texts]))]
    if len(ids) != 2 * len(pairs):
        raise SystemExit(f"FAIL: simtune tokenize gave {len(ids)} rows for {2 * len(pairs)} texts")
    return ids[:len(pairs)], ids[len(pairs):]


def relative_diff(actual, expected):
    return abs(actual - expected) / max(abs(expected), 1e-30)


def max_abs_diff(actual, expected):
    """Largest elementwise |actual - expected|; infinite if the shapes differ or a NaN appears."""
    if actual.shape != expected.shape:
        return np.inf
    diff = float(np.abs(actual.astype(np.float64) - expected).max())
    return np.inf if np.isnan(diff) else diff


def is_key_bias(name):
    # Adding the key bias b shifts every attention score of query q by the same q.b, which the
    # softmax cancels: its exact gradient is zero, and both sides hold rounding noise (~1e-12)
    # that no relative tolerance can compare. It must stay that small instead.
    return name.endswith("attention.self.key.bias")


def check_gradients(args, checks, model_dir, batch, train_file=STS_TRAIN,
                    loss_args=("--loss", "CosineSimilarityLoss"), reference_loss="CosineSimilarityLoss",
                    exactly_zero=()):
    """(a): simtune_grad_dump's loss and gradients on the first batch of `train_file` (read with
    the score scale; loss_args pick the loss) vs torch autograd of reference_loss on `batch`, its
    examples. exactly_zero: further tensors whose exact gradient the loss makes zero, checked as
    the key biases are."""
    grads_file = args.workdir / "grads.safetensors"
    start = time.perf_counter()
    output = oc.read_jsonl(oc.run([args.grad_dump, "--model", model_dir, "--train", train_file,
                                   "--score-scale", SCORE_SCALE, "--batch-size", len(batch[0]),
                                   *loss_args, "--out", grads_file]))
    print(f"simtune_grad_dump {' '.join(map(str, loss_args))}: {time.perf_counter() - start:.1f} s")
    actual = safetensors_io.load_f32(grads_file)
    loss, expected = train_reference.gradients(bert_reference.load_model(model_dir), *batch,
                                               loss=reference_loss)

    checks.true("batch loss", relative_diff(output[-1]["loss"], loss) <= LOSS_TOLERANCE,
                f"simtune {output[-1]['loss']!r}, reference {loss!r} (tolerance {LOSS_TOLERANCE:g} relative)")
    # The pooler takes no part in the loss; a dump may list it, with zero gradients.
    pooler = sorted(name for name in actual if name.startswith("pooler."))
    for name in pooler:
        grad = actual.pop(name)
        checks.close(f"gradient {name} (unused, must be 0)", grad, np.zeros_like(grad), 0.0)
    names_match = checks.true("gradient tensor names", set(actual) == set(expected),
                              f"missing {sorted(set(expected) - set(actual))}, "
                              f"unexpected {sorted(set(actual) - set(expected))}")
    if not names_match:
        return

    ratios = []
    for name in sorted(expected):
        reference = expected[name]
        if is_key_bias(name) or name in exactly_zero:
            # Noise is ~1e-7 of the layer's key.weight gradient; a wrong gradient is of its order.
            scale = np.abs(expected[name.replace(".bias", ".weight")]).max()
            checks.close(f"gradient {name} (exactly 0, rounding noise only)", actual[name],
                         np.zeros_like(reference), 1e-4 * scale)
            continue
        scale = float(np.abs(reference).max())
        diff = max_abs_diff(actual[name], reference)
        ratios.append((diff / scale, name, diff, scale))
    ratios.sort(reverse=True)
    print(f"worst gradient tensors (max|simtune - torch| / max|torch|, tolerance {GRAD_TOLERANCE:g}):")
    for ratio, name, diff, scale in ratios[:WORST_SHOWN]:
        print(f"       {name}: {ratio:.3g} (max diff {diff:.3g}, max |torch| {scale:.3g})")
    bad = [name for ratio, name, _, _ in ratios if not ratio <= GRAD_TOLERANCE]
    for name in bad[:WORST_SHOWN]:
        # A scratch Checks prints the first differing elements; the summary below counts them.
        oc.Checks().close(f"gradient {name}", actual[name], expected[name],
                          GRAD_TOLERANCE * float(np.abs(expected[name]).max()))
    checks.true(f"gradients of {len(ratios)} tensors within {GRAD_TOLERANCE:g} relative", not bad,
                f"{len(bad)} outside" if bad else "")


def check_log(checks, log, reference_log, what=""):
    """Per-step loss, lr and gradient norm of `simtune train --log-file` vs the reference."""
    steps = [row.get("step") for row in log]
    count = len(reference_log)
    if not checks.true(f"{what}log steps", steps == list(range(1, count + 1)),
                       f"got steps {steps[:5]}... ({len(steps)} lines)"):
        return
    for key, tolerance in (("loss", STEP_LOSS_TOLERANCE), ("lr", LR_TOLERANCE),
                           ("grad_norm", GRAD_NORM_TOLERANCE)):
        diffs = [relative_diff(row[key], ref[key]) for row, ref in zip(log, reference_log)]
        bad = [i for i, d in enumerate(diffs) if not d <= tolerance]
        detail = f"max relative diff {max(diffs):.3g} (tolerance {tolerance:g})"
        if bad:
            detail += "; first bad steps: " + ", ".join(
                f"{i + 1}: simtune {log[i][key]!r}, reference {reference_log[i][key]!r}" for i in bad[:5])
            if key == "lr":
                detail += (" -- the reference decays the lr to 0 at --max-steps "
                           "(total = max_steps, warmup = ceil(0.1 * max_steps))")
        checks.true(f"{what}per-step {key} over {count} steps", not bad, detail)


def check_training(args, checks, model_dir, pairs, ids_a, ids_b):
    """(b): 50 steps of `simtune train` vs the reference; returns the trained model directory."""
    out_dir, log_file = args.workdir / "trained", args.workdir / "train-log.jsonl"
    start = time.perf_counter()
    oc.run([args.simtune, "train", "--model", model_dir, "--train", STS_TRAIN, "--output", out_dir,
            "--no-shuffle", "--dropout", 0, "--max-steps", STEPS, "--batch-size", BATCH_SIZE,
            "--score-scale", SCORE_SCALE, "--log-file", log_file, "--quiet"])
    print(f"simtune train: {STEPS} steps in {time.perf_counter() - start:.1f} s")

    model = bert_reference.load_model(model_dir)
    # `--max-steps` sets the schedule's length, as Hugging Face Trainer's max_steps does.
    trainer = train_reference.Trainer(model, train_reference.TrainConfig(total_steps=STEPS))
    labels = [label for _, _, label in pairs]
    start = time.perf_counter()
    reference_log = [trainer.step(*batch)
                     for batch in train_reference.batches(ids_a, ids_b, labels, BATCH_SIZE)[:STEPS]]
    print(f"reference: {STEPS} steps in {time.perf_counter() - start:.1f} s")
    check_log(checks, oc.read_jsonl(log_file.read_text()), reference_log)

    initial = safetensors_io.load_f32(model_dir / "model.safetensors")
    trained = safetensors_io.load_f32(out_dir / "model.safetensors")
    if not checks.true("trained tensor names", set(trained) == set(initial),
                       f"missing {sorted(set(initial) - set(trained))}, unexpected {sorted(set(trained) - set(initial))}"):
        return out_dir
    expected = {name: p.detach().numpy() for name, p in model.bert.state_dict().items()}
    worst = (0.0, "")
    for name in sorted(trained):
        if name.removeprefix("bert.").startswith("pooler."):
            checks.close(f"{name} unchanged, bit-for-bit", trained[name], initial[name], 0.0,
                         labels=("trained", "initial"))
            continue
        reference = expected[name.removeprefix("bert.")]
        diff = max_abs_diff(trained[name], reference)
        worst = max(worst, (diff, name))
        if not diff <= WEIGHT_TOLERANCE:
            checks.close(f"trained {name}", trained[name], reference, WEIGHT_TOLERANCE)
    moved = max(float(np.abs(trained[n] - initial[n]).max()) for n in trained)
    checks.true(f"trained weights within {WEIGHT_TOLERANCE:g}",
                worst[0] <= WEIGHT_TOLERANCE,
                f"max abs diff {worst[0]:.3g} in {worst[1]} (weights moved up to {moved:.3g} from the start)")
    check_weight_decay(checks, trained, initial, expected, ids_a + ids_b)
    return out_dir


def check_weight_decay(checks, trained, initial, expected, id_lists):
    """Word-embedding rows of tokens no batch used get no gradient, so AdamW only decays them:
    w * prod(1 - lr * weight_decay), a change of ~5e-6 relative, far below WEIGHT_TOLERANCE.
    Compared to a quarter of that change, which leaves room for float32 rounding of the factor."""
    name = next(n for n in trained if n.removeprefix("bert.") == "embeddings.word_embeddings.weight")
    unused = np.setdiff1d(np.arange(trained[name].shape[0]), np.concatenate([np.asarray(ids) for ids in id_lists]))
    reference = expected["embeddings.word_embeddings.weight"][unused]
    decay = float(np.abs(initial[name][unused] - reference).max())
    if checks.true("reference decays unused embedding rows", decay > 0, f"max change {decay:.3g}"):
        checks.close(f"weight decay of {len(unused)} unused word-embedding rows", trained[name][unused],
                     reference, 0.25 * decay)


def check_trained_model_loads(args, checks, out_dir):
    """(c): the trained directory in the reference vs `simtune encode`."""
    inputs = args.workdir / "embed-inputs.txt"
    oc.write_lines(inputs, oc.varied_sentences(count=EMBED_SENTENCES, long_lines=0))
    id_lists = [row["ids"] for row in oc.read_jsonl(oc.run(
        [args.simtune, "tokenize", "--model", out_dir, "--input", inputs]))]
    expected = bert_reference.embed(bert_reference.load_model(out_dir), id_lists)
    oc.run([args.simtune, "encode", "--model", out_dir, "--input", inputs,
            "--output", args.workdir / "embed.npy"])
    checks.close(f"trained model: {len(id_lists)} embeddings, simtune encode vs reference",
                 np.load(args.workdir / "embed.npy"), expected, EMBED_TOLERANCE)


def main():
    args = parse_args()
    # torch defaults to cpuinfo's physical-core count, 1 on some 2-CPU VMs.
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    checks = oc.Checks()
    model_dir = args.workdir / "model"
    oc.run([args.simtune, "init", "--config", oc.MINILM_DIR, "--seed", 0, "--out", model_dir])
    pairs = train_reference.read_sts_pairs(STS_TRAIN, SCORE_SCALE, limit=STEPS * BATCH_SIZE)
    ids_a, ids_b = tokenize_pairs(args, model_dir, pairs)

    check_gradients(args, checks, model_dir,
                    train_reference.batches(ids_a, ids_b, [label for _, _, label in pairs], BATCH_SIZE)[0])
    out_dir = check_training(args, checks, model_dir, pairs, ids_a, ids_b)
    check_trained_model_loads(args, checks, out_dir)
    checks.finish()


if __name__ == "__main__":
    main()

"""The losses beyond CosineSimilarityLoss against the PyTorch reference's formulas
(scripts/oracle/train_reference.py), as test_train_parity.py checks CosineSimilarityLoss: on
paraphrase-MiniLM-L6-v2's config with random weights and STS training pairs in file order, dropout
off, for each loss (a) the first batch's loss and every gradient against torch autograd, and
(b) 50 steps of `simtune train --loss NAME`: per-step loss within 1e-4 relative, lr and gradient
norm per step. Batches of 4 keep each loss short; the test scripts pick the losses."""

import time

import numpy as np
import torch

import oracle_common as oc
import bert_reference
import test_train_parity as parity
import train_reference

BATCH_SIZE = 4
STEPS = 50


def prepare(args):
    """(model directory, {data name: (file, columns of texts, labels)}): the STS pairs as the
    library's scored pairs and (anchor, positive), an (anchor, positive, negative) file whose
    negative is the next pair's second sentence, the pairs with 0/1 labels (written as 0 or 5,
    for the score scale every run passes), the pairs with three classes, as NLI's (0, 1, 2 by
    STS score below 2, below 3.5, from 3.5; written times 5 likewise), and the STS pairs with a
    teacher embedding each (workdir/teacher.npy, for MSELoss), also as a file of their first
    texts alone."""
    # One thread: these small batches gain little from two, and on a loaded machine (ctest -j)
    # every op of a two-thread torch waits for its slower thread.
    torch.set_num_threads(1)
    model_dir = args.workdir / "model"
    oc.run([args.simtune, "init", "--config", oc.MINILM_DIR, "--seed", 0, "--out", model_dir])
    pairs = train_reference.read_sts_pairs(parity.STS_TRAIN, parity.SCORE_SCALE,
                                           limit=STEPS * BATCH_SIZE + 1)
    texts_a = [a for a, _, _ in pairs[:-1]]
    texts_b = [b for _, b, _ in pairs[:-1]]
    labels = [label for _, _, label in pairs[:-1]]
    negatives = [b for _, b, _ in pairs[1:]]
    triplets = args.workdir / "triplets.tsv"
    oc.write_lines(triplets, ["anchor\tpositive\tnegative"] +
                   [f"{a}\t{b}\t{n}" for a, b, n in zip(texts_a, texts_b, negatives)])
    # Similar (1) when STS scores the pair 3 or more, else dissimilar (0).
    binary_labels = [1.0 if label >= 0.6 else 0.0 for label in labels]
    binary = args.workdir / "binary.tsv"
    oc.write_lines(binary, ["sentence1\tsentence2\tlabel"] +
                   [f"{a}\t{b}\t{label * parity.SCORE_SCALE:g}"
                    for a, b, label in zip(texts_a, texts_b, binary_labels)])
    classes = [0.0 if label < 0.4 else 1.0 if label < 0.7 else 2.0 for label in labels]
    classes_file = args.workdir / "classes.tsv"
    oc.write_lines(classes_file, ["sentence1\tsentence2\tlabel"] +
                   [f"{a}\t{b}\t{label * parity.SCORE_SCALE:g}"
                    for a, b, label in zip(texts_a, texts_b, classes)])
    # Teacher embeddings for MSELoss: small random rows, one per pair of a file of these pairs.
    teacher = np.random.default_rng(0).normal(0, 0.1, (len(labels), 384)).astype(np.float32)
    np.save(args.workdir / "teacher.npy", teacher)
    pairs_file = args.workdir / "pairs.tsv"
    oc.write_lines(pairs_file, ["sentence1\tsentence2"] +
                   [f"{a}\t{b}" for a, b in zip(texts_a, texts_b)])
    # MSELoss's (text) examples: one column, the same teacher rows.
    texts_file = args.workdir / "texts.tsv"
    oc.write_lines(texts_file, ["text"] + texts_a)
    data = {"sts": (parity.STS_TRAIN, [texts_a, texts_b], labels),
            "teacher": (pairs_file, [texts_a, texts_b], teacher.tolist()),
            "teacher-texts": (texts_file, [texts_a], teacher.tolist()),
            "triplets": (triplets, [texts_a, texts_b, negatives], labels),
            "binary": (binary, [texts_a, texts_b], binary_labels),
            "classes": (classes_file, [texts_a, texts_b], classes)}
    return model_dir, data


def tokenize(args, model_dir, columns):
    """Token ids of each column's texts from one `simtune tokenize` run."""
    texts = args.workdir / "texts.txt"
    oc.write_lines(texts, [t for column in columns for t in column])
    ids = [row["ids"] for row in oc.read_jsonl(oc.run(
        [args.simtune, "tokenize", "--model", model_dir, "--input", texts]))]
    n = len(columns[0])
    return [ids[c * n:(c + 1) * n] for c in range(len(columns))]


def check_loss(args, checks, model_dir, data, loss_args, reference_loss):
    """(a) and (b) for one loss on one data set (file, columns of texts, labels): loss_args pick
    it in simtune (--loss NAME ...), reference_loss in train_reference (a LOSSES name or
    function)."""
    train_file, columns, labels = data
    ids = tokenize(args, model_dir, columns)
    batches = train_reference.batches(ids[0], ids[1] if len(ids) > 1 else None, labels, BATCH_SIZE,
                                      negatives=ids[2:])
    # The last LayerNorm's bias moves every (mean-pooled) embedding by the same vector, which the
    # euclidean distances of TripletLoss cancel: its exact gradient is zero, both sides hold noise.
    exactly_zero = ("encoder.layer.5.output.LayerNorm.bias",) if reference_loss == "TripletLoss" else ()
    parity.check_gradients(args, checks, model_dir, batches[0], train_file, loss_args,
                           reference_loss, exactly_zero)

    what = f"{' '.join(map(str, loss_args))} on {train_file.name}: "
    log_file = args.workdir / "log.jsonl"
    log_file.unlink(missing_ok=True)
    start = time.perf_counter()
    oc.run([args.simtune, "train", "--model", model_dir, "--train", train_file,
            "--output", args.workdir / "trained", *loss_args, "--no-shuffle",
            "--dropout", 0, "--max-steps", STEPS, "--batch-size", BATCH_SIZE,
            "--score-scale", parity.SCORE_SCALE, "--log-file", log_file, "--quiet"])
    print(f"{what}simtune train: {STEPS} steps in {time.perf_counter() - start:.1f} s")
    trainer = train_reference.Trainer(bert_reference.load_model(model_dir),
                                      train_reference.TrainConfig(total_steps=STEPS),
                                      loss=reference_loss)
    start = time.perf_counter()
    reference_log = [trainer.step(*batch) for batch in batches[:STEPS]]
    print(f"{what}reference: {STEPS} steps in {time.perf_counter() - start:.1f} s")
    parity.check_log(checks, oc.read_jsonl(log_file.read_text()), reference_log, what)


def main(cases, more=None):
    """Checks each case of cases(workdir): (data name, loss_args, reference loss) as check_loss
    takes them; then more(args, checks, model_dir, data), when given."""
    args = parity.parse_args()
    checks = oc.Checks()
    model_dir, data = prepare(args)
    for data_name, loss_args, reference_loss in cases(args.workdir):
        check_loss(args, checks, model_dir, data[data_name], loss_args, reference_loss)
    if more is not None:
        more(args, checks, model_dir, data)
    checks.finish()

"""simtune eval --evaluator binary and --evaluator triplet against numpy re-implementations of
sentence-transformers' BinaryClassificationEvaluator (find_best_acc_and_threshold,
find_best_f1_and_threshold, sklearn's average_precision_score and matthews_corrcoef) and
TripletEvaluator, to 1e-9, on STS dev pairs (label 1 where the score is >= 4; some rows
repeated, so scores tie) and STS-derived triplets. Similarities are float64 of simtune's own
embeddings summed in simtune's order, so ties sort alike. Also the CSV layouts and bad rows."""
import csv
import json
import subprocess

import numpy as np

import oracle_common as oc

TOLERANCE = 1e-9
FUNCTIONS = ["cosine", "dot", "euclidean", "manhattan"]
GREATER_IS_BETTER = {"cosine": True, "dot": True, "euclidean": False, "manhattan": False}
METRICS = ["accuracy", "accuracy_threshold", "f1", "f1_threshold", "precision", "recall", "ap", "mcc"]
CSV_METRICS = ["accuracy", "accuracy_threshold", "f1", "precision", "recall", "f1_threshold", "ap", "mcc"]


def seq_sum(x):
    """Row sums in index order (cumsum is sequential), as simtune sums."""
    return np.cumsum(x, axis=1)[:, -1]


def paired_scores(a, b):
    """Per pair: cosine and dot similarity, euclidean and manhattan distance (sklearn's paired_*)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    dot = seq_sum(a * b)
    na, nb = np.maximum(np.sqrt(seq_sum(a * a)), 1e-12), np.maximum(np.sqrt(seq_sum(b * b)), 1e-12)
    return {"cosine": dot / (na * nb), "dot": dot, "euclidean": np.sqrt(seq_sum((a - b) ** 2)),
            "manhattan": seq_sum(np.abs(a - b))}


def find_best_acc_and_threshold(scores, labels, high_score_more_similar):
    rows = sorted(zip(scores, labels), key=lambda x: x[0], reverse=high_score_more_similar)
    max_acc, best_threshold = 0, -1
    positive_so_far, remaining_negatives = 0, sum(labels == 0)
    for i in range(len(rows) - 1):
        score, label = rows[i]
        if label == 1:
            positive_so_far += 1
        else:
            remaining_negatives -= 1
        acc = (positive_so_far + remaining_negatives) / len(labels)
        if acc > max_acc:
            max_acc = acc
            best_threshold = (rows[i][0] + rows[i + 1][0]) / 2
    return max_acc, best_threshold


def find_best_f1_and_threshold(scores, labels, high_score_more_similar):
    rows = sorted(zip(scores, labels), key=lambda x: x[0], reverse=high_score_more_similar)
    best_f1 = best_precision = best_recall = 0
    threshold, nextract, ncorrect = 0, 0, 0
    total_num_duplicates = sum(labels)
    for i in range(len(rows) - 1):
        score, label = rows[i]
        nextract += 1
        if label == 1:
            ncorrect += 1
        if ncorrect > 0:
            precision = ncorrect / nextract
            recall = ncorrect / total_num_duplicates
            f1 = 2 * precision * recall / (precision + recall)
            if f1 > best_f1:
                best_f1, best_precision, best_recall = f1, precision, recall
                threshold = (rows[i][0] + rows[i + 1][0]) / 2
    return best_f1, best_precision, best_recall, threshold


def average_precision_score(y_true, y_score):
    """sklearn's: precision_recall_curve from _binary_clf_curve, then -sum(diff(recall) * precision)."""
    desc = np.argsort(y_score, kind="mergesort")[::-1]
    y_score, y_true = y_score[desc], y_true[desc]
    threshold_idxs = np.r_[np.where(np.diff(y_score))[0], y_true.size - 1]
    tps = np.cumsum(y_true)[threshold_idxs]
    fps = 1 + threshold_idxs - tps
    precision = np.r_[(tps / (tps + fps))[::-1], 1]
    recall = np.r_[(tps / tps[-1])[::-1], 0]
    return -np.sum(np.diff(recall) * precision[:-1])


def matthews_corrcoef(y_true, y_pred):
    """sklearn's, from the confusion matrix's covariances."""
    c = np.zeros((2, 2))
    for t, p in zip(y_true, y_pred):
        c[int(t), int(p)] += 1
    t_sum, p_sum = c.sum(axis=1), c.sum(axis=0)
    n_correct, n_samples = np.trace(c), c.sum()
    cov_ytyp = n_correct * n_samples - np.dot(t_sum, p_sum)
    cov_ypyp = n_samples ** 2 - np.dot(p_sum, p_sum)
    cov_ytyt = n_samples ** 2 - np.dot(t_sum, t_sum)
    if cov_ypyp * cov_ytyt == 0:
        return 0.0
    return cov_ytyp / np.sqrt(cov_ytyt * cov_ypyp)


def binary_reference(a, b, labels):
    out = {}
    per = {}
    for name, scores in paired_scores(a, b).items():
        greater = GREATER_IS_BETTER[name]
        acc, acc_threshold = find_best_acc_and_threshold(scores, labels, greater)
        f1, precision, recall, f1_threshold = find_best_f1_and_threshold(scores, labels, greater)
        ap = average_precision_score(labels, scores * (1 if greater else -1))
        predicted = (scores >= f1_threshold) if greater else (scores <= f1_threshold)
        per[name] = {"accuracy": acc, "accuracy_threshold": acc_threshold, "f1": f1,
                     "f1_threshold": f1_threshold, "precision": precision, "recall": recall, "ap": ap,
                     "mcc": matthews_corrcoef(labels, predicted)}
    for name in FUNCTIONS:
        for metric in METRICS:
            out[f"{name}_{metric}"] = per[name][metric]
    for metric in METRICS:
        out[f"max_{metric}"] = max(per[name][metric] for name in FUNCTIONS)
    return out


def triplet_reference(anchor, positive, negative):
    pos, neg = paired_scores(anchor, positive), paired_scores(anchor, negative)
    out = {}
    for name in FUNCTIONS:
        better = pos[name] > neg[name] if GREATER_IS_BETTER[name] else pos[name] < neg[name]
        out[f"{name}_accuracy"] = np.mean(better)
    out["max_accuracy"] = max(out.values())
    return out


def encode(args, model, path, lines):
    oc.write_lines(path.with_suffix(".txt"), lines)
    oc.run([args.simtune, "encode", "--model", model, "--input", path.with_suffix(".txt"), "--output",
            path.with_suffix(".npy"), "--quiet"])
    return np.load(path.with_suffix(".npy"))


def compare(checks, label, got, want):
    checks.true(f"{label}: metric names and order are the library's", list(got) == list(want), str(list(got)))
    for name in want:
        checks.close(f"{label} {name}", got.get(name, np.nan), want[name], TOLERANCE)


def expect_error(checks, label, command, message):
    result = subprocess.run([str(p) for p in command], capture_output=True, text=True)
    checks.true(label, result.returncode == 1 and message in result.stderr,
                f"exit {result.returncode}, {result.stderr.strip()}")


def main():
    args = oc.parse_args(__doc__)
    checks = oc.Checks()
    work = args.workdir
    model = work / "tiny"
    oc.run([args.simtune, "init", "--config", oc.tiny_config_dir(work), "--seed", 13, "--out", model])
    rows = [line.rstrip("\r\n").split("\t") for line in oc.STS_DEV.read_text(encoding="utf-8").splitlines()]
    rows = rows + rows[:40]  # repeated pairs: equal scores, which the stable sorts keep in order

    # BinaryClassificationEvaluator
    labels = np.array([1 if float(r[4]) >= 4 else 0 for r in rows])
    oc.write_lines(work / "pairs.tsv", [f"{r[5]}\t{r[6]}\t{label}" for r, label in zip(rows, labels)])
    a = encode(args, model, work / "a", [r[5] for r in rows])
    b = encode(args, model, work / "b", [r[6] for r in rows])
    want = binary_reference(a, b, labels)
    command = [args.simtune, "eval", "--model", model, "--evaluator", "binary", "--data", work / "pairs.tsv"]
    got = json.loads(oc.run(command + ["--json", "--csv-dir", work / "csv", "--name", "dev"]))
    checks.true("binary: pair count", got.pop("pairs") == len(rows))
    compare(checks, "binary", got, want)
    with open(work / "csv" / "binary_classification_evaluation_dev_results.csv", newline="") as f:
        table = list(csv.reader(f))
    header = ["epoch", "steps"] + [f"{n}_{m}" for n in FUNCTIONS for m in CSV_METRICS]
    checks.true("binary: CSV header is the library's", table[0] == header, str(table[0]))
    checks.close("binary: CSV values", [float(v) for v in table[1][2:]],
                 [want[h] for h in header[2:]], TOLERANCE)

    # TripletEvaluator: each sentence1, its sentence2 as positive, the next row's as negative.
    triplets = [(r[5], r[6], rows[(i + 1) % len(rows)][6]) for i, r in enumerate(rows)]
    oc.write_lines(work / "triplets.tsv", ["anchor\tpositive\tnegative"] + ["\t".join(t) for t in triplets])
    columns = [encode(args, model, work / f"t{i}", [t[i] for t in triplets]) for i in range(3)]
    want = triplet_reference(*columns)
    command = [args.simtune, "eval", "--model", model, "--evaluator", "triplet", "--data", work / "triplets.tsv"]
    got = json.loads(oc.run(command + ["--json", "--csv-dir", work / "csv"]))
    checks.true("triplet: count (header skipped)", got.pop("triplets") == len(triplets))
    compare(checks, "triplet", got, want)
    with open(work / "csv" / "triplet_evaluation_results.csv", newline="") as f:
        table = list(csv.reader(f))
    checks.true("triplet: CSV header is the library's",
                table[0] == ["epoch", "steps"] + [f"accuracy_{n}" for n in FUNCTIONS], str(table[0]))

    # Bad rows: file:line (or the pair), exit 1.
    oc.write_lines(work / "bad-label.tsv", ["a\tb\t1", "c\td\t2"])
    expect_error(checks, "binary: label 2 names file:line",
                 [args.simtune, "eval", "--model", model, "--evaluator", "binary", "--data", work / "bad-label.tsv"],
                 f"{work / 'bad-label.tsv'}:2:")
    oc.write_lines(work / "half-label.tsv", ["a\tb\t1", "c\td\t0.5"])
    expect_error(checks, "binary: label 0.5 names the pair",
                 [args.simtune, "eval", "--model", model, "--evaluator", "binary", "--data", work / "half-label.tsv"],
                 "pair 2 has label 0.5")
    oc.write_lines(work / "bad-triplets.tsv", ["a\tb\tc", "a\tb"])
    expect_error(checks, "triplet: two fields name file:line",
                 [args.simtune, "eval", "--model", model, "--evaluator", "triplet", "--data", work / "bad-triplets.tsv"],
                 f"{work / 'bad-triplets.tsv'}:2: expected anchor<TAB>positive<TAB>negative")
    checks.finish()


if __name__ == "__main__":
    main()

"""simtune train with InformationRetrievalEvaluator, BinaryClassificationEvaluator and
TripletEvaluator beside the dev set: each runs before training, after every epoch and every
--eval-steps, appending the library's CSV (epoch -1 before training, steps -1 at an epoch's end,
else the steps within the epoch) to OUT/eval/; --metric-for-best-model keeps the model whose
chosen metric was best, which `simtune eval` of the saved model then reproduces; an unknown
metric name stops the run naming the metrics there are."""
import csv
import json
import subprocess

import oracle_common as oc

STS = oc.REPO / "data" / "stsbenchmark"


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def main():
    args = oc.parse_args(__doc__)
    checks = oc.Checks()
    work = args.workdir
    model = work / "tiny"
    oc.run([args.simtune, "init", "--config", oc.tiny_config_dir(work), "--seed", 3, "--out", model])
    train = [l for l in (STS / "sts-train.csv").read_text(encoding="utf-8").splitlines()][:48]
    (work / "train.csv").write_text("\n".join(train) + "\n", encoding="utf-8")
    rows = [l.split("\t") for l in (STS / "sts-dev.csv").read_text(encoding="utf-8").splitlines()][:200]
    oc.write_lines(work / "dev.csv", ["\t".join(r) for r in rows])
    docs = list(dict.fromkeys(r[6] for r in rows))
    oc.write_lines(work / "queries.tsv", [f"q{i}\t{r[5]}" for i, r in enumerate(rows)])
    oc.write_lines(work / "corpus.tsv", [f"d{i}\t{t}" for i, t in enumerate(docs)])
    oc.write_lines(work / "qrels.tsv", [f"q{i}\td{docs.index(r[6])}" for i, r in enumerate(rows) if float(r[4]) >= 3])
    oc.write_lines(work / "labels.tsv", [f"{r[5]}\t{r[6]}\t{int(float(r[4]) >= 3)}" for r in rows])
    oc.write_lines(work / "triplets.tsv", [f"{r[5]}\t{r[6]}\t{rows[(i + 7) % len(rows)][6]}" for i, r in enumerate(rows)])

    out = work / "out"
    base = [args.simtune, "train", "--model", model, "--train", work / "train.csv", "--score-scale", 5,
            "--eval", work / "dev.csv", "--ir-queries", work / "queries.tsv", "--ir-corpus", work / "corpus.tsv",
            "--ir-qrels", work / "qrels.tsv", "--binary-eval", work / "labels.tsv",
            "--triplet-eval", work / "triplets.tsv", "--batch-size", 8, "--epochs", 2, "--eval-steps", 4,
            "--lr", 1e-3, "--dropout", 0, "--quiet"]
    oc.run(base + ["--output", out, "--log-file", work / "log.jsonl",
                   "--metric-for-best-model", "eval_queries_cosine_ndcg@10"])

    # 6 steps an epoch, --eval-steps counted over the run: before training, at steps 4, 6 (the
    # first epoch's end), 8 (the second epoch's step 2) and 12.
    points = [("-1", "-1"), ("0", "4"), ("0", "-1"), ("1", "2"), ("1", "-1")]
    files = {"queries": "Information-Retrieval_evaluation_queries_results.csv",
             "labels": "binary_classification_evaluation_labels_results.csv",
             "triplets": "triplet_evaluation_triplets_results.csv",
             "dev": "similarity_evaluation_dev_results.csv"}
    tables = {}
    for name, file in files.items():
        tables[name] = read_csv(out / "eval" / file)
        checks.true(f"{file}: one row per evaluation, epoch and steps as the library writes them",
                    [(r["epoch"], r["steps"]) for r in tables[name]] == points,
                    str([(r["epoch"], r["steps"]) for r in tables[name]]))
    log = [json.loads(l) for l in (work / "log.jsonl").read_text().splitlines()]
    ir_lines = [l for l in log if l.get("eval") == "queries"]
    checks.true("log: the IR evaluator's metrics at each evaluation",
                len(ir_lines) == len(points) and "cosine_ndcg@10" in ir_lines[0], str(ir_lines[:1]))

    ndcg = [float(r["cosine-NDCG@10"]) for r in tables["queries"]]
    checks.true("the chosen metric changes during training", len(set(ndcg)) > 1, str(ndcg))
    got = json.loads(oc.run([args.simtune, "eval", "--model", out, "--evaluator", "ir", "--queries", work / "queries.tsv",
                             "--corpus", work / "corpus.tsv", "--qrels", work / "qrels.tsv", "--json"]))
    checks.close("saved model is the best by eval_queries_cosine_ndcg@10", got["cosine_ndcg@10"], max(ndcg), 1e-12)
    card = (out / "README.md").read_text(encoding="utf-8")
    checks.true("model card names the chosen metric", "best eval_queries_cosine_ndcg@10" in card)

    result = subprocess.run([str(p) for p in base + ["--output", work / "out2", "--metric-for-best-model", "ndcg@11"]],
                            capture_output=True, text=True)
    checks.true("unknown metric: exit 1 naming it and the metrics there are",
                result.returncode == 1 and "ndcg@11" in result.stderr and "queries_cosine_ndcg@10" in result.stderr
                and "dev_spearman_cosine" in result.stderr, f"exit {result.returncode}: {result.stderr.strip()[:300]}")
    checks.finish()


if __name__ == "__main__":
    main()

"""simtune eval --evaluator ir against a numpy re-implementation of sentence-transformers'
InformationRetrievalEvaluator (its compute_metrics, line for line, with its 3.x default score
functions cosine and dot), to 1e-9, on a retrieval set built from the STS dev data: each distinct
sentence1 is a query, each distinct sentence2 a document, and a query's relevant documents are
the sentence2s of its pairs scored >= 4. The rankings come from float64 scores of simtune's own
embeddings summed in simtune's order (so exact ties break alike: the lower corpus index first,
where torch.topk leaves the choice open). Also the library's CSV layout, and file:line errors."""
import csv
import json
import subprocess

import numpy as np

import oracle_common as oc

TOLERANCE = 1e-9
ACCURACY_AT_K = [1, 3, 5, 10]
PRECISION_RECALL_AT_K = [1, 3, 5, 10]
MRR_AT_K, NDCG_AT_K, MAP_AT_K = [10], [10], [100]
MAX_K = 100


def sequential_dots(a, b):
    """a_i . b_j in float64, each sum in index order (cumsum is sequential), as simtune sums."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    out = np.empty((len(a), len(b)))
    for start in range(0, len(a), 16):
        block = a[start:start + 16]
        out[start:start + 16] = np.cumsum(block[:, None, :] * b[None, :, :], axis=2)[:, :, -1]
    return out


def score_matrices(q, c):
    dots = sequential_dots(q, c)
    qn = np.maximum(np.sqrt(sequential_dots(q, q).diagonal()), 1e-12)
    cn = np.maximum(np.sqrt(np.array([sequential_dots(c[i:i + 1], c[i:i + 1])[0, 0] for i in range(len(c))])), 1e-12)
    return {"cosine": dots / (qn[:, None] * cn[None, :]), "dot": dots}


def dcg_at_k(relevances, k):
    return sum(relevances[i] / np.log2(i + 2) for i in range(min(len(relevances), k)))


def compute_metrics(queries_result_list, query_ids, relevant_docs):
    """sentence-transformers' InformationRetrievalEvaluator.compute_metrics."""
    num_hits_at_k = {k: 0 for k in ACCURACY_AT_K}
    precisions_at_k = {k: [] for k in PRECISION_RECALL_AT_K}
    recall_at_k = {k: [] for k in PRECISION_RECALL_AT_K}
    mrr = {k: 0 for k in MRR_AT_K}
    ndcg = {k: [] for k in NDCG_AT_K}
    ave_p_at_k = {k: [] for k in MAP_AT_K}
    for query_itr, top_hits in enumerate(queries_result_list):
        query_relevant_docs = relevant_docs[query_ids[query_itr]]
        for k_val in ACCURACY_AT_K:
            for hit in top_hits[0:k_val]:
                if hit["corpus_id"] in query_relevant_docs:
                    num_hits_at_k[k_val] += 1
                    break
        for k_val in PRECISION_RECALL_AT_K:
            num_correct = sum(1 for hit in top_hits[0:k_val] if hit["corpus_id"] in query_relevant_docs)
            precisions_at_k[k_val].append(num_correct / k_val)
            recall_at_k[k_val].append(num_correct / len(query_relevant_docs))
        for k_val in MRR_AT_K:
            for rank, hit in enumerate(top_hits[0:k_val]):
                if hit["corpus_id"] in query_relevant_docs:
                    mrr[k_val] += 1.0 / (rank + 1)
                    break
        for k_val in NDCG_AT_K:
            predicted = [1 if hit["corpus_id"] in query_relevant_docs else 0 for hit in top_hits[0:k_val]]
            true_relevances = [1] * len(query_relevant_docs)
            ndcg[k_val].append(dcg_at_k(predicted, k_val) / dcg_at_k(true_relevances, k_val))
        for k_val in MAP_AT_K:
            num_correct, sum_precisions = 0, 0
            for rank, hit in enumerate(top_hits[0:k_val]):
                if hit["corpus_id"] in query_relevant_docs:
                    num_correct += 1
                    sum_precisions += num_correct / (rank + 1)
            ave_p_at_k[k_val].append(sum_precisions / min(k_val, len(query_relevant_docs)))
    n = len(queries_result_list)
    return {
        "accuracy@k": {k: v / n for k, v in num_hits_at_k.items()},
        "precision@k": {k: np.mean(v) for k, v in precisions_at_k.items()},
        "recall@k": {k: np.mean(v) for k, v in recall_at_k.items()},
        "ndcg@k": {k: np.mean(v) for k, v in ndcg.items()},
        "mrr@k": {k: v / n for k, v in mrr.items()},
        "map@k": {k: np.mean(v) for k, v in ave_p_at_k.items()},
    }


def reference(q_emb, c_emb, query_ids, corpus_ids, relevant_docs):
    metrics = {}
    for name, scores in score_matrices(q_emb, c_emb).items():
        results = []
        for row in scores:
            top = np.argsort(-row, kind="stable")[:MAX_K]
            results.append([{"corpus_id": corpus_ids[j], "score": row[j]} for j in top])
        for metric, values in compute_metrics(results, query_ids, relevant_docs).items():
            for k, value in values.items():
                metrics[f"{name}_{metric.replace('@k', '@' + str(k))}"] = value
    return metrics


def csv_headers():
    headers = ["epoch", "steps"]
    for name in sorted(["cosine", "dot"]):
        headers += [f"{name}-Accuracy@{k}" for k in ACCURACY_AT_K]
        for k in PRECISION_RECALL_AT_K:
            headers += [f"{name}-Precision@{k}", f"{name}-Recall@{k}"]
        headers += [f"{name}-MRR@{k}" for k in MRR_AT_K]
        headers += [f"{name}-NDCG@{k}" for k in NDCG_AT_K]
        headers += [f"{name}-MAP@{k}" for k in MAP_AT_K]
    return headers


def write_tsv(path, rows):
    oc.write_lines(path, ["\t".join(r) for r in rows])


def main():
    args = oc.parse_args(__doc__)
    checks = oc.Checks()
    work = args.workdir
    model = work / "tiny"
    oc.run([args.simtune, "init", "--config", oc.tiny_config_dir(work), "--seed", 11, "--out", model])

    rows = [line.rstrip("\r\n").split("\t") for line in oc.STS_DEV.read_text(encoding="utf-8").splitlines()]
    queries = list(dict.fromkeys(r[5] for r in rows))
    docs = list(dict.fromkeys(r[6] for r in rows))
    query_ids = {text: f"q{i}" for i, text in enumerate(queries)}
    doc_ids = {text: f"d{i}" for i, text in enumerate(docs)}
    qrels = list(dict.fromkeys((query_ids[r[5]], doc_ids[r[6]]) for r in rows if float(r[4]) >= 4))
    relevant_docs = {}
    for qid, did in qrels:
        relevant_docs.setdefault(qid, set()).add(did)
    write_tsv(work / "queries.tsv", [(query_ids[t], t) for t in queries])
    write_tsv(work / "corpus.tsv", [(doc_ids[t], t) for t in docs])
    write_tsv(work / "qrels.tsv", qrels)

    kept = [t for t in queries if query_ids[t] in relevant_docs]  # the library drops the others
    oc.write_lines(work / "q.txt", kept)
    oc.write_lines(work / "c.txt", docs)
    for name in ("q", "c"):
        oc.run([args.simtune, "encode", "--model", model, "--input", work / f"{name}.txt",
                "--output", work / f"{name}.npy", "--quiet"])
    want = reference(np.load(work / "q.npy"), np.load(work / "c.npy"), [query_ids[t] for t in kept],
                     [doc_ids[t] for t in docs], relevant_docs)

    eval_ir = [args.simtune, "eval", "--model", model, "--evaluator", "ir", "--queries", work / "queries.tsv",
               "--corpus", work / "corpus.tsv", "--qrels", work / "qrels.tsv"]
    got = json.loads(oc.run(eval_ir + ["--json", "--csv-dir", work / "csv", "--name", "sts-dev"]))
    checks.true("query and corpus counts", got.pop("queries") == len(kept) and got.pop("corpus") == len(docs),
                f"{len(kept)} queries with relevant documents, {len(docs)} documents")
    checks.true("metric names and order are the library's", list(got) == list(want), str(list(got)))
    for name in want:
        checks.close(name, got.get(name, np.nan), want[name], TOLERANCE)
    checks.true("metrics are informative", 0 < want["cosine_ndcg@10"] < 1, f"cosine_ndcg@10 {want['cosine_ndcg@10']}")

    with open(work / "csv" / "Information-Retrieval_evaluation_sts-dev_results.csv", newline="") as f:
        table = list(csv.reader(f))
    checks.true("CSV header is the library's", table[0] == csv_headers(), str(table[0]))
    row = dict(zip(table[0], table[1]))
    checks.true("CSV epoch and steps", row["epoch"] == "-1" and row["steps"] == "-1")
    checks.close("CSV cosine-NDCG@10", float(row["cosine-NDCG@10"]), want["cosine_ndcg@10"], TOLERANCE)
    checks.close("CSV dot-MAP@100", float(row["dot-MAP@100"]), want["dot_map@100"], TOLERANCE)

    # Bad files: file:line errors, exit 1.
    write_tsv(work / "bad-qrels.tsv", qrels[:2] + [("q0", "no-such-doc")])
    write_tsv(work / "bad-corpus.tsv", [("d0", "a"), ("d0", "b")])
    oc.write_lines(work / "bad-queries.tsv", ["q0\tfine", "no tab here"])
    cases = [
        ("--qrels", work / "bad-qrels.tsv", f"{work / 'bad-qrels.tsv'}:3: document \"no-such-doc\" is not in the corpus"),
        ("--corpus", work / "bad-corpus.tsv", f"{work / 'bad-corpus.tsv'}:2: duplicate id \"d0\""),
        ("--queries", work / "bad-queries.tsv", f"{work / 'bad-queries.tsv'}:2: expected id<TAB>text"),
    ]
    for option, path, message in cases:
        command = [str(part) for part in eval_ir]
        command[command.index(option) + 1] = str(path)
        result = subprocess.run(command, capture_output=True, text=True)
        checks.true(f"bad {option}: exit 1 naming file:line", result.returncode == 1 and message in result.stderr,
                    f"exit {result.returncode}, {result.stderr.strip()}")
    result = subprocess.run([str(p) for p in eval_ir[:8]], capture_output=True, text=True)
    checks.true("missing --corpus: usage error", result.returncode == 2 and "--corpus" in result.stderr,
                f"exit {result.returncode}, {result.stderr.strip()}")
    checks.finish()


if __name__ == "__main__":
    main()

"""simtune search / mine-paraphrases against a numpy + heapq re-implementation of
sentence-transformers' util.semantic_search and util.paraphrase_mining_embeddings, run on the
embeddings `simtune encode` gives for the STS dev sentences (which repeat, so scores tie).

The reference follows sentence-transformers' algorithm step by step (per-chunk top_k + 1,
the (score, i, j) priority queue with its max_pairs eviction, deduplication, stable sort by
score), with simtune's documented tie rule (the lower index wins) where torch.topk leaves the
choice open. Scores are cosines in float64 summed in the same sequential order as simtune, so
ties are exact on both sides and indices must agree exactly; scores must also agree to 1e-6
with torch's float32 cos_sim, which sentence-transformers uses."""
import heapq
import json

import numpy as np
import torch

import oracle_common as oc

TOLERANCE = 1e-6


def sequential_cos(a, b):
    """cos(a_i, b_j) = dot / (max(|a_i|, 1e-12) * max(|b_j|, 1e-12)), each sum taken in index
    order (cumsum is strictly sequential), as simtune sums."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    na = np.maximum(np.sqrt(np.cumsum(a * a, axis=1)[:, -1]), 1e-12)
    nb = np.maximum(np.sqrt(np.cumsum(b * b, axis=1)[:, -1]), 1e-12)
    out = np.empty((len(a), len(b)))
    for start in range(0, len(a), 64):
        block = a[start:start + 64]
        dots = np.cumsum(block[:, None, :] * b[None, :, :], axis=2)[:, :, -1]
        out[start:start + 64] = dots / (na[start:start + 64, None] * nb[None, :])
    return out


def top(scores_row, k):
    """Indices of the k highest scores, best first, the lower index winning ties."""
    return np.argsort(-scores_row, kind="stable")[:k]


def semantic_search(queries, corpus, top_k):
    scores = sequential_cos(queries, corpus)
    return [[(int(j), scores[q, j]) for j in top(scores[q], top_k)] for q in range(len(queries))]


def paraphrase_mining(emb, top_k, max_pairs, query_chunk_size, corpus_chunk_size):
    scores = sequential_cos(emb, emb)
    top_k += 1  # the sentence itself is among its own top hits
    queue, min_score, num_added = [], -1, 0
    n = len(emb)
    for c0 in range(0, n, corpus_chunk_size):
        for q0 in range(0, n, query_chunk_size):
            for i in range(q0, min(n, q0 + query_chunk_size)):
                row = scores[i, c0:c0 + corpus_chunk_size]
                for local in top(row, min(top_k, len(row))):
                    j = c0 + int(local)
                    if i != j and scores[i, j] > min_score:
                        heapq.heappush(queue, (scores[i, j], i, j))
                        num_added += 1
                        if num_added >= max_pairs:
                            min_score = heapq.heappop(queue)[0]
    seen, pairs = set(), []
    while queue:
        score, i, j = heapq.heappop(queue)
        a, b = sorted((i, j))
        if (a, b) not in seen:
            seen.add((a, b))
            pairs.append((score, a, b))
    return sorted(pairs, key=lambda p: p[0], reverse=True)


def torch_cos(a, b, rows, cols):
    """sentence-transformers' cos_sim (float32) of the listed (row, col) pairs."""
    an = torch.nn.functional.normalize(torch.from_numpy(a), p=2, dim=1)
    bn = torch.nn.functional.normalize(torch.from_numpy(b), p=2, dim=1)
    return (an[rows] * bn[cols]).sum(1).numpy()


def has_ties(scores):
    return any(x == y for x, y in zip(scores, scores[1:]))


def main():
    args = oc.parse_args(__doc__)
    checks = oc.Checks()
    work = args.workdir
    model = work / "tiny"
    oc.run([args.simtune, "init", "--config", oc.tiny_config_dir(work), "--seed", 7, "--out", model])
    corpus = [s for s in oc.sts_sentences() if s.strip()]
    queries = corpus[::97][:25] + ["a man is playing a guitar", "", "Ünïcödé 東京 query"]
    oc.write_lines(work / "corpus.txt", corpus)
    oc.write_lines(work / "queries.txt", queries)
    for name in ("corpus", "queries"):
        oc.run([args.simtune, "encode", "--model", model, "--input", work / f"{name}.txt",
                "--output", work / f"{name}.npy", "--quiet"])
    corpus_emb, query_emb = np.load(work / "corpus.npy"), np.load(work / "queries.npy")

    for top_k in (5, 10, 1):
        command = [args.simtune, "search", "--model", model, "--corpus", work / "corpus.txt",
                   "--query-file", work / "queries.txt", "--json", "--quiet"]
        if top_k != 10:  # 10 is the default, as in sentence-transformers
            command += ["--top-k", top_k]
        got = oc.read_jsonl(oc.run(command))
        want = semantic_search(query_emb, corpus_emb, top_k)
        checks.true(f"search k={top_k}: one result per query", len(got) == len(queries))
        got_ids = [[h["corpus_id"] for h in r["hits"]] for r in got]
        want_ids = [[j for j, _ in hits] for hits in want]
        differing = [q for q in range(min(len(got_ids), len(want_ids))) if got_ids[q] != want_ids[q]]
        checks.true(f"search k={top_k}: corpus ids", got_ids == want_ids,
                    f"query {differing[0]}: {got_ids[differing[0]]}, expected {want_ids[differing[0]]}"
                    if differing else "")
        checks.true(f"search k={top_k}: queries and texts",
                    all(r["query"] == queries[r["query_id"]] and
                        all(h["text"] == corpus[h["corpus_id"]] for h in r["hits"]) for r in got))
        if got_ids == want_ids:
            got_scores = [h["score"] for r in got for h in r["hits"]]
            checks.close(f"search k={top_k}: scores", got_scores, [s for hits in want for _, s in hits], TOLERANCE)
            rows = [q for q, hits in enumerate(want) for _ in hits]
            checks.close(f"search k={top_k}: scores vs torch float32 cos_sim", got_scores,
                          torch_cos(query_emb, corpus_emb, rows, sum(want_ids, [])), TOLERANCE)
        if top_k == 5:
            checks.true("search: exact ties exercised (repeated sentences)",
                        any(has_ties([s for _, s in hits]) for hits in want))

    mining_cases = [
        ("defaults", [], dict(top_k=100, max_pairs=500000, query_chunk_size=5000, corpus_chunk_size=100000)),
        ("top_k 3, small chunks, cap 1500", ["--top-k", 3, "--max-pairs", 1500, "--query-chunk-size", 700,
                                             "--corpus-chunk-size", 1100],
         dict(top_k=3, max_pairs=1500, query_chunk_size=700, corpus_chunk_size=1100)),
    ]
    for label, options, params in mining_cases:
        got = oc.read_jsonl(oc.run([args.simtune, "mine-paraphrases", "--model", model, "--input",
                                    work / "corpus.txt", "--json", "--quiet"] + options))
        want = paraphrase_mining(corpus_emb, **params)
        got_pairs = [(p["i"], p["j"]) for p in got]
        want_pairs = [(i, j) for _, i, j in want]
        first = next((r for r in range(min(len(got_pairs), len(want_pairs))) if got_pairs[r] != want_pairs[r]), None)
        checks.true(f"mining {label}: {len(want_pairs)} pairs in order", got_pairs == want_pairs,
                    "" if got_pairs == want_pairs else
                    f"{len(got_pairs)} pairs, first difference at rank {first}")
        checks.true(f"mining {label}: texts", all(p["text_i"] == corpus[p["i"]] and p["text_j"] == corpus[p["j"]] for p in got))
        if got_pairs == want_pairs:
            checks.close(f"mining {label}: scores", [p["score"] for p in got], [s for s, _, _ in want], TOLERANCE)
            checks.close(f"mining {label}: scores vs torch float32 cos_sim", [p["score"] for p in got],
                         torch_cos(corpus_emb, corpus_emb, [i for i, _ in want_pairs], [j for _, j in want_pairs]),
                         TOLERANCE)
        checks.true(f"mining {label}: exact ties exercised", has_ties([s for s, _, _ in want]))
    checks.finish()


if __name__ == "__main__":
    main()

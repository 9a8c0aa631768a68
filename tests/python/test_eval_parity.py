"""simtune eval's correlations against scipy.stats.pearsonr / spearmanr (to 1e-9) on the STS
benchmark's gold scores (many ties) and the similarities of simtune's own embeddings."""
import json

import numpy as np
from scipy import stats

import oracle_common as oc

STS = oc.REPO / "data" / "stsbenchmark"
TOLERANCE = 1e-9


def main():
    args = oc.parse_args(__doc__)
    checks = oc.Checks()
    model = args.workdir / "tiny"
    oc.run([args.simtune, "init", "--config", oc.tiny_config_dir(args.workdir), "--seed", 5, "--out", model])
    for split in ("sts-dev.csv", "sts-test.csv"):
        rows = [line.rstrip("\r\n").split("\t") for line in (STS / split).read_text(encoding="utf-8").splitlines()]
        gold = np.array([float(r[4]) / 5 for r in rows])
        for side, column in (("a", 5), ("b", 6)):
            oc.write_lines(args.workdir / f"{side}.txt", [r[column] for r in rows])
            oc.run([args.simtune, "encode", "--model", model, "--input", args.workdir / f"{side}.txt",
                    "--output", args.workdir / f"{side}.npy", "--quiet"])
        a = np.load(args.workdir / "a.npy").astype(np.float64)
        b = np.load(args.workdir / "b.npy").astype(np.float64)
        similarities = {
            "cosine": np.sum(a * b, 1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)),
            "euclidean": -np.linalg.norm(a - b, axis=1),
            "manhattan": -np.sum(np.abs(a - b), 1),
            "dot": np.sum(a * b, 1),
        }
        got = json.loads(oc.run([args.simtune, "eval", "--model", model, "--data", STS / split,
                                 "--score-scale", 5, "--json"]))
        checks.true(f"{split}: pair count", got["pairs"] == len(rows))
        for name, sim in similarities.items():
            # The library's keys: pearson_cosine, spearman_cosine, ...
            checks.close(f"{split} pearson_{name}", got[f"pearson_{name}"], stats.pearsonr(gold, sim)[0], TOLERANCE)
            checks.close(f"{split} spearman_{name}", got[f"spearman_{name}"], stats.spearmanr(gold, sim)[0], TOLERANCE)
    checks.finish()


if __name__ == "__main__":
    main()

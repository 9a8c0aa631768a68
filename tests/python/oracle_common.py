"""Shared helpers for the oracle tests: arguments, running simtune, test inputs, comparisons."""

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
MINILM_DIR = REPO / "data" / "models" / "paraphrase-MiniLM-L6-v2"
STS_DEV = REPO / "data" / "stsbenchmark" / "sts-dev.csv"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")

sys.path.insert(0, str(REPO / "scripts" / "oracle"))


def parse_args(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--simtune", required=True, type=Path, help="the simtune binary")
    parser.add_argument("--workdir", required=True, type=Path, help="scratch directory (recreated)")
    parser.add_argument("--grad-dump", type=Path, help="the simtune_grad_dump test tool")
    parser.add_argument("--activation-dump", type=Path, help="the simtune_activation_dump test tool")
    args = parser.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    return args


def run(command):
    """Runs a command, returns its stdout; a failure stops the test with the command's stderr."""
    command = [str(part) for part in command]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"FAIL: {' '.join(command)} exited {result.returncode}\n{result.stderr}")
    return result.stdout


def sts_sentences(path=STS_DEV):
    """Both sentences of every STS row (columns 6 and 7), in file order. Some rows carry extra
    trailing fields, so fields are split on tabs rather than parsed as quoted CSV."""
    sentences = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            sentences.extend(fields[5:7])
    return sentences


def varied_sentences(count, long_lines):
    """`count` distinct STS sentences spread evenly over the length range, then `long_lines`
    lines of many joined sentences, long enough to be truncated at any max_seq_length <= 128."""
    unique = sorted(set(s for s in sts_sentences() if s.strip()), key=lambda s: (len(s), s))
    step = len(unique) / count
    picked = [unique[int(i * step)] for i in range(count)]
    longest = unique[-long_lines * 12:]
    joined = [" ".join(longest[i * 12:(i + 1) * 12]) for i in range(long_lines)]
    return picked + joined


def tiny_config_dir(workdir, **overrides):
    """MiniLM's config.json with a tiny model's sizes (hidden 32, 2 layers, 4 heads), beside the
    real tokenizer files, for `simtune init --config`."""
    config_dir = Path(workdir) / "tiny-config"
    config_dir.mkdir()
    config = json.loads((MINILM_DIR / "config.json").read_text())
    config.update({"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                   "intermediate_size": 64, "vocab_size": 30522, "layer_norm_eps": 1e-12})
    config.update(overrides)
    (config_dir / "config.json").write_text(json.dumps(config, indent=2))
    for name in TOKENIZER_FILES:
        shutil.copy(MINILM_DIR / name, config_dir / name)
    return config_dir


def write_lines(path, lines):
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def read_jsonl(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class Checks:
    """Collects named comparisons; finish() exits non-zero if any failed."""

    def __init__(self):
        self.failed = []

    def close(self, name, actual, expected, atol, labels=("simtune", "reference")):
        """actual vs expected elementwise within atol (atol 0: bit-for-bit)."""
        actual, expected = np.asarray(actual), np.asarray(expected)
        if actual.shape != expected.shape:
            print(f"FAIL {name}: shape {actual.shape}, expected {expected.shape}")
            self.failed.append(name)
            return False
        diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
        max_diff = float(diff.max()) if diff.size else 0.0
        bad = np.argwhere(~(diff <= atol))  # also catches NaN
        if len(bad) == 0:
            print(f"ok   {name}: max abs diff {max_diff:.3g} (tolerance {atol:g})")
            return True
        print(f"FAIL {name}: max abs diff {max_diff:.3g} > {atol:g} at {len(bad)} elements; first:")
        for index in bad[:5]:
            index = tuple(int(i) for i in index)
            print(f"       {index}: {labels[0]} {actual[index]!r}, {labels[1]} {expected[index]!r}")
        self.failed.append(name)
        return False

    def true(self, name, condition, detail=""):
        print(f"{'ok  ' if condition else 'FAIL'} {name}{': ' + detail if detail else ''}")
        if not condition:
            self.failed.append(name)
        return condition

    def finish(self):
        if self.failed:
            print(f"{len(self.failed)} check(s) failed: {', '.join(self.failed)}")
            sys.exit(1)
        print("all checks passed")

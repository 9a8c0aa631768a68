#!/usr/bin/python3
"""Checks that the committed tokenizer goldens are exactly what Hugging Face's tokenizer (npm
`tokenizers`, scripts/oracle) gives now: the stress corpus at max length 128, the long lines at
512, and the per-code-point Unicode dump. simtune itself is checked against these files by the
unit tests (tests/unit/tokenizer_test.cpp), so a stale golden would hide a difference.

usage: test_tokenizer_oracle.py --simtune PATH --workdir DIR
"""
import argparse
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
ORACLE = os.path.join(ROOT, "scripts", "oracle")
GOLDEN = os.path.join(ROOT, "tests", "golden")


def run_oracle(args, out_path):
    with open(out_path, "wb") as out:
        subprocess.run(["node", *args], cwd=ORACLE, stdout=out, check=True)
    with open(out_path, "rb") as f:
        return f.read().split(b"\n")


def compare(name, got_lines, golden_path):
    with open(golden_path, "rb") as f:
        want_lines = f.read().split(b"\n")
    if got_lines == want_lines:
        print(f"{name}: {len(want_lines) - 1} lines identical")
        return True
    print(f"{name}: oracle output differs from {os.path.relpath(golden_path, ROOT)}")
    if len(got_lines) != len(want_lines):
        print(f"  line counts: oracle {len(got_lines) - 1}, golden {len(want_lines) - 1}")
    shown = 0
    for n, (got, want) in enumerate(zip(got_lines, want_lines)):
        if got != want:
            print(f"  line {n + 1}:\n    oracle: {got[:300].decode(errors='replace')}"
                  f"\n    golden: {want[:300].decode(errors='replace')}")
            shown += 1
            if shown == 5:
                break
    return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--simtune", required=True, help="simtune binary (unused: the unit tests run simtune)")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--grad-dump", help="unused: ctest passes it to every oracle test")
    parser.add_argument("--activation-dump", help="unused: ctest passes it to every oracle test")
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)

    if not os.path.isdir(os.path.join(ORACLE, "node_modules", "tokenizers")):
        subprocess.run(["npm", "ci", "--prefix", ORACLE], check=True)

    ok = True
    for name, oracle_args, golden in (
        ("stress@128", ["tokenize_oracle.js", os.path.join(GOLDEN, "tokenizer_stress.txt")],
         "tokenizer_stress.expected.jsonl"),
        ("long@512", ["tokenize_oracle.js", os.path.join(GOLDEN, "tokenizer_long.txt"), "--max-length", "512"],
         "tokenizer_long.expected512.jsonl"),
        ("unicode", ["unicode_scan.js"], "tokenizer_unicode.txt"),
    ):
        got = run_oracle(oracle_args, os.path.join(args.workdir, golden))
        ok = compare(name, got, os.path.join(GOLDEN, golden)) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

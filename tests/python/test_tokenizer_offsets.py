#!/usr/bin/python3
"""`simtune tokenize --offsets` against Hugging Face's tokenizer (npm `tokenizers`,
scripts/oracle/tokenize_oracle.js --offsets): for every line, the same ids and the same byte range
of the original line behind each token. The lines: the tokenizer stress corpus (every STS sentence
and the hand-written Unicode cases) at max length 128, the long lines at 512, and cases aimed at
offsets (accents precomposed and decomposed, CJK, emoji, combining marks, control chars, [UNK]
words, words past 100 chars, literal special tokens, prompts) at 128 and truncated short. Then
with do_lower_case (sentence-transformers lowercases before tokenizing): offsets still point into
the text as given, so they equal the oracle's on that text wherever the ids agree.
"""
import json
import shutil
import subprocess

import oracle_common as oc

ORACLE = oc.REPO / "scripts" / "oracle"
GOLDEN = oc.REPO / "tests" / "golden"

HARD_CASES = [
    "Café naïve RÉSUMÉ coöperate",
    "Cafe\u0301 nai\u0308ve re\u0301sume\u0301 (decomposed)",
    "x \u0301y \u0301 leading and orphaned marks",
    "a\u0323\u0307 a\u0307\u0323 ṩ stacked",
    "İstanbul ΣΊΣΥΦΟΣ STRASSE ẞ",
    "中文字符 mixed with English 日本語のテキスト",
    "한국어 텍스트 ᄀᄁ jamo",
    "emoji 😀 👍🏽 👨‍👩‍👧 🇫🇷 flags",
    "tab\there\x01\x07ctrl\x7fchars\u200bzero\u200dwidth\ufeffbom",
    "soft\u00adhyphen and non\u00a0breaking space",
    "[UNK] words: ⌘⌥⇧ ☃ ꙮ",
    "a" * 99 + " " + "b" * 100 + " " + "c" * 101 + " " + "é" * 101 + " end",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "literal [MASK] and [SEP] and [CLS] tokens, [PAD]",
    "query: what is the capital of France?",
    "   leading and trailing spaces   ",
    "",
    " ",
    "\x00",
    "punctuation!!! ... ?!? (brackets) [square] {curly} \"quotes\" 'single' — – - ‐",
    "numbers 3.14159 1,000,000 ２０２４ ½ ² ⅔",
    "ﬁ ﬂ ligatures ｈａｌｆ ｗｉｄｔｈ",
]


def oracle(lines_path, max_length, model):
    out = subprocess.run(["node", "tokenize_oracle.js", str(lines_path), "--max-length", str(max_length),
                          "--model", str(model), "--offsets"],
                         cwd=ORACLE, capture_output=True, text=True, check=True).stdout
    return oc.read_jsonl(out)


def simtune(args, lines_path, max_length, model):
    return oc.read_jsonl(oc.run([args.simtune, "tokenize", "--model", model, "--input", lines_path,
                                 "--max-seq-length", max_length, "--offsets"]))


def compare(checks, name, lines, got, want, only_equal_ids=False):
    """Counts the lines whose ids and offsets both agree; prints the first few that do not."""
    if len(got) != len(want):
        return checks.true(name, False, f"{len(got)} lines from simtune, {len(want)} from the oracle")
    bad, skipped = [], 0
    for n, (g, w) in enumerate(zip(got, want)):
        if only_equal_ids and g["ids"] != w["ids"]:
            skipped += 1
            continue
        if g["ids"] != w["ids"] or g["offsets"] != w["offsets"]:
            bad.append(n)
    for n in bad[:5]:
        g, w = got[n], want[n]
        k = next((k for k, (a, b) in enumerate(zip(zip(g["ids"], g["offsets"]), zip(w["ids"], w["offsets"])))
                  if a != b), min(len(g["ids"]), len(w["ids"])))
        print(f"  line {n + 1}: {lines[n]!r}\n    first difference at token {k} ({g['tokens'][k:k + 1]}):"
              f"\n    simtune ids {g['ids'][k:k + 4]} offsets {g['offsets'][k:k + 4]}"
              f"\n    oracle  ids {w['ids'][k:k + 4]} offsets {w['offsets'][k:k + 4]}")
    detail = f"{len(got) - len(bad) - skipped} lines agree" + (f", {skipped} skipped" if skipped else "")
    return checks.true(name, not bad, detail + (f", {len(bad)} differ" if bad else ""))


def read_corpus(path):
    return path.read_text(encoding="utf-8").split("\n")[:-1]


def main():
    args = oc.parse_args(__doc__)
    checks = oc.Checks()
    if not (ORACLE / "node_modules" / "tokenizers").is_dir():
        subprocess.run(["npm", "ci", "--prefix", str(ORACLE)], check=True)
    model = oc.MINILM_DIR

    hard = args.workdir / "hard.txt"
    oc.write_lines(hard, HARD_CASES)
    runs = [("stress corpus @128", GOLDEN / "tokenizer_stress.txt", 128),
            ("long lines @512", GOLDEN / "tokenizer_long.txt", 512),
            ("long lines truncated @40", GOLDEN / "tokenizer_long.txt", 40),
            ("hard cases @128", hard, 128)]
    runs += [(f"hard cases truncated @{n}", hard, n) for n in (2, 3, 5, 9)]
    for name, path, max_length in runs:
        lines = read_corpus(path)
        got = simtune(args, path, max_length, model)
        compare(checks, f"{name}: ids and offsets == oracle", lines, got, oracle(path, max_length, model))

    got = simtune(args, hard, 128, model)
    checks.true("[CLS] and [SEP] have offsets [0, 0], every other token a non-empty range",
                all(g["offsets"][0] == [0, 0] and g["offsets"][-1] == [0, 0] and
                    all(b < e for b, e in g["offsets"][1:-1]) for g in got))

    lower = args.workdir / "lowercase-model"
    shutil.copytree(model, lower)
    config = json.loads((lower / "sentence_bert_config.json").read_text())
    config["do_lower_case"] = True
    (lower / "sentence_bert_config.json").write_text(json.dumps(config))
    for name, path in (("stress corpus", GOLDEN / "tokenizer_stress.txt"), ("hard cases", hard)):
        lines = read_corpus(path)
        got = simtune(args, path, 128, lower)
        want = oracle(path, 128, model)
        if name == "stress corpus":
            agree = sum(g["ids"] == w["ids"] for g, w in zip(got, want))
            checks.true(f"do_lower_case, {name}: most lines tokenize as without it",
                        agree > 0.9 * len(lines), f"{agree} of {len(lines)}")
        compare(checks, f"do_lower_case, {name}: offsets into the text as given == oracle", lines, got,
                want, only_equal_ids=True)
    checks.finish()


if __name__ == "__main__":
    main()

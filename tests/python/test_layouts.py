#!/usr/bin/python3
"""Every sentence-transformers layout simtune reads, against outputs simtune cannot influence.

(a) tests/data/st6-saved-tiny: a directory sentence-transformers 6.0.1 saved, with the library's
    own embeddings of its input lines (tests/data/README.md); `simtune encode` within 1e-5.
(b) Layout variants of one random tiny model (`simtune init`) against the PyTorch reference
    (scripts/oracle/bert_reference.py), within 1e-5. Token ids come from `simtune tokenize` of
    the plain model (the tokenizer has its own oracle); everything a layout changes on top is
    computed here: truncation to tokenizer_config.json's model_max_length, Python's str.lower()
    for do_lower_case, the library's prompt length (the prompt tokenized alone, [SEP] not
    counted). Variants: the 6.x layout (new module type names, pooling_mode and
    embedding_dimension, no vocab.txt, no max_seq_length); vocab.txt alone; Dense with each
    activation, with and without bias, and two Dense then Normalize; prompts by text, by name
    and by default, with include_prompt true and false over every pooling mode; do_lower_case
    with a cased tokenizer; similarity_fn_name in `simtune similarity` and `simtune search`.
(c) Training through Dense: simtune_grad_dump's gradients, Dense and BERT, against autograd;
    a model trained and saved by `simtune train` loads in the reference (2.x-5.x layout, Dense
    folder) and embeds as `simtune encode` does.
"""

import json
import os
import shutil

import numpy as np
import torch

import oracle_common as oc
import bert_reference  # scripts/oracle, put on sys.path by oracle_common
import safetensors_io
import train_reference

TOLERANCE = 1e-5
FIXTURE = oc.REPO / "tests" / "data" / "st6-saved-tiny"
GRAD_TOLERANCE = 1e-3  # of the tensor's largest reference element
STS_TRAIN = oc.REPO / "data" / "stsbenchmark" / "sts-train.csv"
MAX_POSITIONS = 64
HIDDEN = 32  # oc.tiny_config_dir's
ST6 = {"Transformer": "sentence_transformers.base.modules.transformer.Transformer",
       "Pooling": "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
       "Dense": "sentence_transformers.base.modules.dense.Dense",
       "Normalize": "sentence_transformers.base.modules.normalize.Normalize"}
ST5 = {kind: "sentence_transformers.models." + kind for kind in ST6}
ACTIVATIONS = sorted(bert_reference.ACTIVATIONS)
# Lines whose case matters: Python lowercases final sigma, dotted capital I and title-case
# digraphs its own way.
CASED_LINES = ["ΟΔΥΣΣΕΥΣ ΚΑΙ ΣΟΦΙΑ.", "İstanbul ve İzmir", "ǅemal SAID: Straße ΣΑΣ!",
               "A Man Is Playing The GUITAR.", "ΣΣ Σ.Σ ΑΣ'Σ"]


def check_fixture(args, checks):
    """(a) the library's own output for its own directory."""
    out = args.workdir / "st6.npy"
    oc.run([args.simtune, "encode", "--model", FIXTURE, "--input", FIXTURE.parent / "st6-saved-tiny.input.txt",
            "--output", out, "--quiet"])
    expected = np.load(FIXTURE.parent / "st6-saved-tiny.expected.npy")
    checks.close("st6-saved-tiny vs sentence-transformers 6.0.1", np.load(out), expected, TOLERANCE)


class Variants:
    """Copies of one base model directory with their layout rewritten."""

    def __init__(self, args, base):
        self.args, self.base = args, base

    def make(self, name, modules=None, pooling=None, dense=(), normalize=False, files=None, remove=()):
        """modules: type names by kind (ST5 or ST6); pooling: 1_Pooling/config.json; dense:
        [(in, out, bias, activation, seed)]; files: {relative path: JSON to write}."""
        out = self.args.workdir / name
        shutil.copytree(self.base, out, ignore=shutil.ignore_patterns("model.safetensors"))
        os.link(self.base / "model.safetensors", out / "model.safetensors")
        types = modules or ST5
        entries = [{"idx": 0, "name": "0", "path": "", "type": types["Transformer"]},
                   {"idx": 1, "name": "1", "path": "1_Pooling", "type": types["Pooling"]}]
        for in_f, out_f, bias, activation, seed in dense:
            path = f"{len(entries)}_Dense"
            entries.append({"idx": len(entries), "name": str(len(entries)), "path": path, "type": types["Dense"]})
            (out / path).mkdir()
            (out / path / "config.json").write_text(json.dumps(
                {"in_features": in_f, "out_features": out_f, "bias": bias, "activation_function": activation}))
            generator = torch.Generator().manual_seed(seed)
            tensors = {"linear.weight": (torch.randn(out_f, in_f, generator=generator) * 0.4).numpy()}
            if bias:
                tensors["linear.bias"] = (torch.randn(out_f, generator=generator) * 0.2).numpy()
            safetensors_io.save(out / path / "model.safetensors", tensors)
        if normalize:
            path = f"{len(entries)}_Normalize"
            entries.append({"idx": len(entries), "name": str(len(entries)), "path": path, "type": types["Normalize"]})
            (out / path).mkdir()
        (out / "modules.json").write_text(json.dumps(entries, indent=2))
        if pooling is not None:
            (out / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
        for path, content in (files or {}).items():
            (out / path).write_text(json.dumps(content, indent=2))
        for path in remove:
            (out / path).unlink()
        return out


def tokenize(args, model_dir, lines, name):
    path = args.workdir / f"{name}.txt"
    oc.write_lines(path, lines)
    return [row["ids"] for row in oc.read_jsonl(oc.run([args.simtune, "tokenize", "--model", model_dir, "--input", path]))]


def encode(args, model_dir, lines, name, *flags):
    path, out = args.workdir / f"{name}.txt", args.workdir / f"{name}.npy"
    oc.write_lines(path, lines)
    oc.run([args.simtune, "encode", "--model", model_dir, "--input", path, "--output", out, "--quiet", *flags])
    return np.load(out)


def reference(model_dir, ids, prompt_length=0):
    return bert_reference.embed(bert_reference.load_model(model_dir), ids, prompt_length=prompt_length)


def check_layouts(args, checks, variants, lines, ids):
    """(b) without prompts: the 6.x layout, vocab.txt alone, Dense stacks."""
    sep = ids[0][-1]
    short = 24
    st6 = variants.make(
        "st6-layout", modules=ST6,
        pooling={"embedding_dimension": HIDDEN, "pooling_mode": ["cls", "mean"], "include_prompt": True},
        files={"sentence_bert_config.json": {"transformer_task": "feature-extraction",
                                             "module_output_name": "token_embeddings"},
               "tokenizer_config.json": {**json.loads((variants.base / "tokenizer_config.json").read_text()),
                                         "model_max_length": short}},
        remove=["vocab.txt"])
    truncated = [row if len(row) <= short else row[:short - 1] + [sep] for row in ids]
    checks.true("6.x layout: some lines truncated at model_max_length", truncated != ids)
    checks.close("6.x layout (new names, pooling_mode list, model_max_length, no vocab.txt)",
                 encode(args, st6, lines, "st6-layout"), reference(st6, truncated), TOLERANCE)

    vocab_only = variants.make("vocab-only", remove=["tokenizer.json"])
    checks.close("vocab.txt alone", encode(args, vocab_only, lines, "vocab-only"), reference(vocab_only, ids), TOLERANCE)

    for n, activation in enumerate(ACTIVATIONS):
        for bias in (True, False):
            name = f"dense-{activation.rsplit('.', 1)[-1]}-{'bias' if bias else 'nobias'}"
            model = variants.make(name, dense=[(HIDDEN, 24, bias, activation, n)])
            checks.close(name, encode(args, model, lines, name), reference(model, ids), TOLERANCE)
    stack = variants.make("dense-stack-normalize", modules=ST6, dense=[
        (HIDDEN, 24, True, "torch.nn.modules.activation.Tanh", 10),
        (24, 16, False, "torch.nn.modules.activation.GELU", 11)], normalize=True)
    checks.close("two Dense then Normalize (6.x names)", encode(args, stack, lines, "dense-stack"),
                 reference(stack, ids), TOLERANCE)


def check_prompts(args, checks, variants, base, lines):
    """(b) prompts by text, name and default, include_prompt true and false."""
    prompts = {"query": "query: ", "passage": "Represent this passage for retrieval: "}
    st_config = {"prompts": prompts, "default_prompt_name": "query", "similarity_fn_name": "cosine"}
    every_mode = {"embedding_dimension": HIDDEN, "pooling_mode": list(bert_reference.POOLING_MODE_NAMES)}

    def case(label, include_prompt, prompt, flags, pooling=every_mode, dense=()):
        name = label.replace(" ", "-").replace('"', "")
        model = variants.make(name, modules=ST6, pooling={**pooling, "include_prompt": include_prompt},
                              dense=dense, files={"config_sentence_transformers.json": st_config})
        prompted = tokenize(args, base, [prompt + line for line in lines], name + "-ids")
        # The library's prompt length: the prompt tokenized alone, [SEP] not counted; an empty
        # prompt is no prompt.
        length = len(tokenize(args, base, [prompt], name + "-prompt")[0]) - 1 if prompt else 0
        checks.close(label, encode(args, model, lines, name, *flags), reference(model, prompted, length), TOLERANCE)

    text = "Represent the sentence: "
    case("prompt text, include_prompt true", True, text, ["--prompt", text])
    case("prompt text, include_prompt false, every mode", False, text, ["--prompt", text])
    case("prompt name, include_prompt false, Dense", False, prompts["passage"], ["--prompt-name", "passage"],
         pooling={"embedding_dimension": HIDDEN, "pooling_mode": "mean"},
         dense=[(HIDDEN, 8, True, "torch.nn.modules.activation.Tanh", 20)])
    case("default prompt, include_prompt false", False, prompts["query"], [])
    case("empty prompt is no prompt", False, "", ["--prompt", ""])
    # A prompt as long as the maximum length leaves only the final [SEP] to pool.
    long_prompt = " ".join(["word"] * MAX_POSITIONS)
    case("prompt as long as the maximum length", False, long_prompt, ["--prompt", long_prompt])


def check_lowercase(args, checks, variants, lines):
    """(b) do_lower_case: the text is lowercased by Python's rules before a cased tokenizer."""
    tokenizer = json.loads((variants.base / "tokenizer.json").read_text())
    tokenizer["normalizer"]["lowercase"] = False
    cased_files = {"tokenizer.json": tokenizer}
    cased = variants.make("cased", files=cased_files, remove=["vocab.txt"])
    lowering = variants.make("do-lower-case", files={
        **cased_files, "sentence_bert_config.json": {"max_seq_length": MAX_POSITIONS, "do_lower_case": True}},
        remove=["vocab.txt"])
    text = CASED_LINES + lines[:20]
    lowered = tokenize(args, cased, [line.lower() for line in text], "lowered")
    checks.true("do_lower_case changes the cased tokenizer's ids", lowered != tokenize(args, cased, text, "raw"))
    checks.close("do_lower_case (Python's str.lower, then a cased tokenizer)",
                 encode(args, lowering, text, "do-lower-case"), reference(lowering, lowered), TOLERANCE)


def check_similarity(args, checks, variants, lines, ids):
    """(b) similarity_fn_name in `simtune similarity` and `simtune search`."""
    def scores(name, a, b):
        a, b = torch.from_numpy(a).double(), torch.from_numpy(b).double()
        if name == "cosine":
            return torch.nn.functional.cosine_similarity(a[:, None], b[None], dim=-1, eps=1e-12)
        if name == "dot":
            return a @ b.T
        return -torch.cdist(a, b, p=2 if name == "euclidean" else 1)

    emb = reference(variants.base, ids)
    for name in ("cosine", "dot", "euclidean", "manhattan"):
        model = variants.make(f"similarity-{name}", files={"config_sentence_transformers.json": {"similarity_fn_name": name}})
        printed = float(oc.run([args.simtune, "similarity", "--model", model, lines[0], lines[1]]))
        expected = float(scores(name, emb[:1], emb[1:2])[0, 0])
        checks.close(f"similarity {name}", printed, expected, 1e-5 * max(1.0, abs(expected)))
        corpus = args.workdir / f"corpus-{name}.txt"
        oc.write_lines(corpus, lines[1:])
        result = json.loads(oc.run([args.simtune, "search", "--model", model, "--corpus", corpus, "--query", lines[0],
                                    "--top-k", 5, "--json", "--quiet"]))
        ranked = scores(name, emb[:1], emb[1:])[0]
        top = torch.topk(ranked, 5)
        checks.true(f"search {name}: top 5 as the reference ranks them",
                    [h["corpus_id"] for h in result["hits"]] == top.indices.tolist())
        checks.close(f"search {name} scores", [h["score"] for h in result["hits"]], top.values.numpy(),
                     1e-5 * max(1.0, float(top.values.abs().max())))


def check_training(args, checks, variants):
    """(c) gradients through a Dense module, and a trained model saved with its Dense folder."""
    model = variants.make("train-dense", dense=[(HIDDEN, 16, True, "torch.nn.modules.activation.Tanh", 30)],
                          normalize=True)
    pairs = train_reference.read_sts_pairs(STS_TRAIN, limit=16)
    ids_a = tokenize(args, model, [a for a, _, _ in pairs], "pairs-a")
    ids_b = tokenize(args, model, [b for _, b, _ in pairs], "pairs-b")
    labels = torch.tensor([label for _, _, label in pairs], dtype=torch.float32)
    grads_file = args.workdir / "dense-grads.safetensors"
    output = oc.read_jsonl(oc.run([args.grad_dump, "--model", model, "--train", STS_TRAIN, "--score-scale", 5,
                                   "--batch-size", 16, "--out", grads_file]))
    actual = safetensors_io.load_f32(grads_file)
    loss, expected = train_reference.gradients(bert_reference.load_model(model), ids_a, ids_b, labels)
    checks.close("Dense model: batch loss", output[-1]["loss"], loss, 1e-5 * abs(loss))
    checks.true("Dense model: gradient names", set(actual) == set(expected),
                f"missing {sorted(set(expected) - set(actual))}, unexpected {sorted(set(actual) - set(expected))}")
    for name in sorted(set(actual) & set(expected)):
        if name.endswith("attention.self.key.bias"):
            continue  # exactly 0 up to rounding noise: test_train_parity checks it
        scale = float(np.abs(expected[name]).max())
        checks.close(f"Dense model: gradient {name}", actual[name], expected[name], GRAD_TOLERANCE * scale)

    trained = args.workdir / "train-dense-out"
    oc.run([args.simtune, "train", "--model", model, "--train", STS_TRAIN, "--score-scale", 5, "--output", trained,
            "--max-steps", 3, "--batch-size", 16, "--no-shuffle", "--dropout", 0, "--lr", 1e-3, "--quiet"])
    modules = json.loads((trained / "modules.json").read_text())
    checks.true("trained model: 2.x-5.x module names with a Dense folder",
                [m["type"] for m in modules] == [ST5[k] for k in ("Transformer", "Pooling", "Dense", "Normalize")]
                and (trained / "2_Dense" / "model.safetensors").exists(), json.dumps(modules))
    before = safetensors_io.load_f32(model / "2_Dense" / "model.safetensors")["linear.weight"]
    after = safetensors_io.load_f32(trained / "2_Dense" / "model.safetensors")["linear.weight"]
    checks.true("trained model: the Dense weights moved", not np.array_equal(before, after))
    version = oc.run([args.simtune, "--version"]).splitlines()[0]
    checks.true("trained model: the card names the simtune version", version in (trained / "README.md").read_text(),
                version)
    lines = oc.sts_sentences()[:40]
    checks.close("trained model: reference vs simtune encode", encode(args, trained, lines, "trained"),
                 reference(trained, tokenize(args, trained, lines, "trained-ids")), TOLERANCE)


def main():
    args = oc.parse_args(__doc__)
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    checks = oc.Checks()
    check_fixture(args, checks)

    base = args.workdir / "base"
    oc.run([args.simtune, "init", "--config", oc.tiny_config_dir(args.workdir, max_position_embeddings=MAX_POSITIONS),
            "--seed", 5, "--out", base])
    variants = Variants(args, base)
    lines = oc.varied_sentences(count=40, long_lines=2)
    ids = tokenize(args, base, lines, "lines")
    check_layouts(args, checks, variants, lines, ids)
    check_prompts(args, checks, variants, base, lines)
    check_lowercase(args, checks, variants, lines)
    check_similarity(args, checks, variants, lines, ids)
    check_training(args, checks, variants)
    checks.finish()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""simtune encode vs the PyTorch reference (scripts/oracle/bert_reference.py), fp32.

Two randomly initialised models (`simtune init`): A has paraphrase-MiniLM-L6-v2's real config,
B a tiny one. Each is tokenized by `simtune tokenize`, so these cases test the forward pass and
pooling alone; the reference sees exactly the ids simtune used. For each pooling configuration
(a copy of the model directory with its own 1_Pooling/config.json and modules.json),
`simtune encode` at batch sizes 1 and 32 must match the reference within 1e-5. Every layer's
intermediate tensors (simtune_activation_dump), named by Hugging Face module path, must match the
reference's too; a mismatch names the first layer and tensor that diverge, in forward order.
Finally a sentence must embed bit-for-bit the same alone and inside a batch of longer sentences.
"""

import json
import os
import shutil
import sys

import numpy as np
import torch

import oracle_common as oc
import bert_reference  # scripts/oracle, put on sys.path by oracle_common
import safetensors_io

TOLERANCE = 1e-5
BATCH_SIZES = (1, 32)
MODES = bert_reference.POOLING_ORDER
NORMALIZE_MODULE = {"idx": 2, "name": "2", "path": "2_Normalize",
                    "type": "sentence_transformers.models.Normalize"}
TINY_MAX_SEQ_LENGTH = 64


def variant(base, out, modes, normalize, weights_dtype=None):
    """Copy of model directory `base` with the given pooling modes and Normalize module. The
    weights are hard-linked, or rewritten as `weights_dtype` under HF's "bert." prefix."""
    shutil.copytree(base, out, ignore=shutil.ignore_patterns("model.safetensors"))
    if weights_dtype is None:
        os.link(base / "model.safetensors", out / "model.safetensors")
    else:
        weights = safetensors_io.load_f32(base / "model.safetensors")
        safetensors_io.save(out / "model.safetensors", {"bert." + k: v for k, v in weights.items()}, weights_dtype)
    pooling_file = out / "1_Pooling" / "config.json"
    pooling = json.loads(pooling_file.read_text())
    pooling.update({"pooling_mode_" + mode: mode in modes for mode in MODES})
    pooling_file.write_text(json.dumps(pooling, indent=2))
    modules = [m for m in json.loads((out / "modules.json").read_text())
               if not m["type"].endswith(".Normalize")]
    if normalize:
        modules.append(NORMALIZE_MODULE)
        (out / NORMALIZE_MODULE["path"]).mkdir(exist_ok=True)
    (out / "modules.json").write_text(json.dumps(modules, indent=2))
    return out


def token_states(model, id_lists, batch_size=32):
    """[(token_embeddings, attention_mask)] per padded batch, so every pooling variant of the
    same weights reuses one transformer pass."""
    with torch.inference_mode():
        return [bert_reference.forward_ids(model, id_lists[i:i + batch_size])[:2]
                for i in range(0, len(id_lists), batch_size)]


def reference(model_dir, states):
    model = bert_reference.load_model(model_dir)
    with torch.inference_mode():
        return torch.cat([model.pool(tokens, mask) for tokens, mask in states]).numpy()


def encode(args, model_dir, inputs, out, batch_size):
    oc.run([args.simtune, "encode", "--model", model_dir, "--input", inputs, "--output", out,
            "--batch-size", batch_size])
    return np.load(out)


def check_model(args, checks, name, model_dir, inputs, max_seq_length, cases):
    """Every (modes, normalize, weights dtype) case at every batch size against the reference."""
    id_lists = [row["ids"] for row in oc.read_jsonl(oc.run(
        [args.simtune, "tokenize", "--model", model_dir, "--input", inputs]))]
    lengths = [len(ids) for ids in id_lists]
    checks.true(f"{name} tokenize", len(id_lists) == len(inputs.read_text().splitlines())
                and max(lengths) == max_seq_length,
                f"{len(id_lists)} rows, lengths {min(lengths)}..{max(lengths)}, max_seq_length {max_seq_length}")
    states = token_states(bert_reference.load_model(model_dir), id_lists)
    for modes, normalize, dtype in cases:
        label = f"{name} {'+'.join(modes)}{' normalize' if normalize else ''}{' ' + dtype if dtype else ''}"
        directory = variant(model_dir, args.workdir / label.replace(" ", "_"), modes, normalize, dtype)
        # Half-precision weights change the model, so the reference reloads them.
        case_states = states if dtype is None else token_states(bert_reference.load_model(directory), id_lists)
        expected = reference(directory, case_states)
        for batch_size in BATCH_SIZES:
            actual = encode(args, directory, inputs, directory / f"emb{batch_size}.npy", batch_size)
            checks.close(f"{label} batch {batch_size}", actual, expected, TOLERANCE)


def first_divergence(actual, expected):
    """Name of the first tensor in `expected`'s (forward) order that differs, or None.
    The pooled embeddings' 1e-5 absolute holds for every tensor, pre-norm sums included: in these
    random-init models all stay below 5 in magnitude, where float32 differences after the last
    layer are about 3e-6."""
    for name, reference in expected.items():
        if actual[name].shape != reference.shape:
            return name
        if not (np.abs(actual[name].astype(np.float64) - reference) <= TOLERANCE).all():
            return name
    return None


def check_activations(args, checks, name, model_dir, inputs):
    """Every named intermediate tensor of one packed batch of `inputs` against the reference's."""
    dump = args.workdir / f"{name}-activations.safetensors"
    oc.run([args.activation_dump, "--model", model_dir, "--input", inputs, "--out", dump])
    actual = safetensors_io.load_f32(dump)
    id_lists = [row["ids"] for row in oc.read_jsonl(oc.run(
        [args.simtune, "tokenize", "--model", model_dir, "--input", inputs]))]
    expected = bert_reference.named_activations(bert_reference.load_model(model_dir).bert, id_lists)
    same_names = actual.keys() == expected.keys()
    if not checks.true(f"{name} activations named as the reference's", same_names,
                       "" if same_names else f"only simtune: {sorted(actual.keys() - expected.keys())}, "
                       f"only reference: {sorted(expected.keys() - actual.keys())}"):
        return
    tensor = first_divergence(actual, expected)
    if tensor is None:
        checks.true(f"{name} activations", True, f"{len(expected)} tensors over {sum(map(len, id_lists))} tokens")
        return
    layer = ".".join(tensor.split(".")[:3]) if tensor.startswith("encoder.") else "embeddings"
    checks.close(f"{name} activations: first divergence in forward order at {layer}, tensor {tensor}"
                 " (index: packed token, feature)", actual[tensor], expected[tensor], TOLERANCE)


def check_alone_vs_batch(args, checks, model_dir):
    """One sentence alone and among 31 longer ones, in one batch of 32: identical rows."""
    sentences = sorted(set(oc.sts_sentences()), key=len)
    short, longer = sentences[len(sentences) // 4], sentences[-31:]
    alone, batch = args.workdir / "alone.txt", args.workdir / "batch.txt"
    oc.write_lines(alone, [short])
    oc.write_lines(batch, longer[:17] + [short] + longer[17:])
    alone_row = encode(args, model_dir, alone, args.workdir / "alone.npy", 32)[0]
    batch_row = encode(args, model_dir, batch, args.workdir / "batch.npy", 32)[17]
    checks.close("alone vs inside a batch of 32, bit-for-bit", batch_row, alone_row, 0.0,
                 labels=("in batch", "alone"))


def main():
    args = oc.parse_args(__doc__)
    if args.activation_dump is None:
        sys.exit("FAIL: --activation-dump (the simtune_activation_dump test tool) is required")
    # torch defaults to cpuinfo's physical-core count, 1 on some 2-CPU VMs.
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    checks = oc.Checks()
    inputs = args.workdir / "inputs.txt"
    oc.write_lines(inputs, oc.varied_sentences(count=300, long_lines=6))

    model_a = args.workdir / "model-a"
    oc.run([args.simtune, "init", "--config", oc.MINILM_DIR, "--seed", 0, "--out", model_a])
    activation_inputs = args.workdir / "activation-inputs.txt"
    oc.write_lines(activation_inputs, oc.varied_sentences(count=15, long_lines=1))
    check_activations(args, checks, "A", model_a, activation_inputs)
    check_model(args, checks, "A", model_a, inputs, 128, [
        (("mean_tokens",), False, None),
        (("mean_tokens",), True, None),
        (("cls_token", "mean_tokens", "max_tokens"), False, None),
    ])

    model_b = args.workdir / "model-b"
    oc.run([args.simtune, "init", "--config", oc.tiny_config_dir(args.workdir, max_position_embeddings=TINY_MAX_SEQ_LENGTH), "--seed", 1, "--out", model_b])
    st_config = model_b / "sentence_bert_config.json"
    st_config.write_text(json.dumps({**json.loads(st_config.read_text()), "max_seq_length": TINY_MAX_SEQ_LENGTH}))
    check_activations(args, checks, "B", model_b, activation_inputs)
    combination = ("cls_token", "mean_tokens", "max_tokens")
    check_model(args, checks, "B", model_b, inputs, TINY_MAX_SEQ_LENGTH,
                [(modes, normalize, None) for modes in [(mode,) for mode in MODES] + [combination]
                 for normalize in (False, True)]
                + [(("mean_tokens",), False, "F16"), (("mean_tokens",), False, "BF16")])

    check_alone_vs_batch(args, checks, model_a)
    checks.finish()


if __name__ == "__main__":
    main()

"""Every weight format against the same weights in model.safetensors: pytorch_model.bin written by
PyTorch's torch.save, half-precision .bin, sharded safetensors, "bert."-prefixed names, all bit for
bit; hostile pickles refused without running anything; the hub downloader fetching each layout."""

import collections
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import torch

from fake_hub import FakeHub
from oracle_common import Checks, parse_args, run, tiny_config_dir, varied_sentences, write_lines

import safetensors_io  # noqa: E402  (scripts/oracle, put on the path by oracle_common)


def encode(args, model, output, env=None):
    return subprocess.run([str(args.simtune), "encode", "--model", str(model), "--input",
                           str(args.workdir / "s.txt"), "--output", str(output)],
                          capture_output=True, text=True, env=env)


def without_weights(source, target):
    """A copy of the model directory with its model.safetensors removed."""
    shutil.copytree(source, target)
    (target / "model.safetensors").unlink()
    return target


def torch_state_dict(tensors, prefix="", dtype=torch.float32):
    """The tensors as torch.save gets them from BertModel.state_dict(): an OrderedDict, plus
    the int64 position_ids buffer older transformers versions saved."""
    state = collections.OrderedDict()
    for name, array in tensors.items():
        state[prefix + name] = torch.from_numpy(np.array(array)).to(dtype)
    positions = next(a.shape[0] for n, a in tensors.items() if "position_embeddings" in n)
    state[prefix + "embeddings.position_ids"] = torch.arange(positions).unsqueeze(0)
    return state


def share_storage(state, names):
    """Makes `names` contiguous views into one storage at increasing offsets, as a fused
    parameter sliced into a state dict is saved (one data/<key> entry, offsets into it)."""
    flat = torch.cat([state[n].reshape(-1) for n in names])
    offset = 0
    for n in names:
        numel = state[n].numel()
        state[n] = flat[offset:offset + numel].view(state[n].shape)
        offset += numel


def bin_with_pickle(path, pickle_bytes):
    """A zip archive laid out as torch.save writes one, holding `pickle_bytes` as data.pkl."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pickle_bytes)
        z.writestr("archive/version", "3\n")


class Evil:
    """What a hostile checkpoint pickles in place of a tensor: unpickling runs a command."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def main():
    args = parse_args(__doc__.splitlines()[0])
    work = args.workdir
    checks = Checks()
    model = work / "model"
    run([args.simtune, "init", "--config", tiny_config_dir(work), "--seed", "3", "--out", model])
    write_lines(work / "s.txt", varied_sentences(40, 2))
    tensors = safetensors_io.load_f32(model / "model.safetensors")
    reference = encode(args, model, work / "safetensors.npy")
    checks.true("safetensors model encodes", reference.returncode == 0, reference.stderr.strip())
    expected = np.load(work / "safetensors.npy")

    def same_embeddings(name, directory):
        result = encode(args, directory, work / f"{name}.npy")
        if checks.true(f"{name}: encodes", result.returncode == 0, result.stderr.strip()):
            checks.close(f"{name}: bit-identical to model.safetensors",
                         np.load(work / f"{name}.npy"), expected, 0.0)

    # pytorch_model.bin from torch.save, with an int64 buffer and one storage shared by the
    # first layer's query/key/value (tensors at offsets into it).
    bin_model = without_weights(model, work / "bin")
    state = torch_state_dict(tensors)
    share_storage(state, [f"encoder.layer.0.attention.self.{p}.weight"
                          for p in ("query", "key", "value")])
    torch.save(state, bin_model / "pytorch_model.bin")
    names = zipfile.ZipFile(bin_model / "pytorch_model.bin").namelist()
    checks.true("torch.save wrote a zip archive with data.pkl",
                any(n.endswith("/data.pkl") for n in names), str(names[:3]))
    same_embeddings("bin", bin_model)

    # Half precision, names prefixed "bert." (as BertForPreTraining saves them), against the same
    # F16 values in safetensors: both widen to float32 exactly.
    half_st = without_weights(model, work / "half-safetensors")
    safetensors_io.save(half_st / "model.safetensors", tensors, dtype="F16")
    half_bin = without_weights(model, work / "half-bin")
    torch.save(torch_state_dict(tensors, "bert.", torch.float16), half_bin / "pytorch_model.bin")
    result = encode(args, half_st, work / "half-st.npy")
    result_bin = encode(args, half_bin, work / "half-bin.npy")
    if checks.true("half precision: both encode", result.returncode == 0 and
                   result_bin.returncode == 0, result.stderr.strip() + result_bin.stderr.strip()):
        checks.close("half-precision .bin with bert. prefix: bit-identical to F16 safetensors",
                     np.load(work / "half-bin.npy"), np.load(work / "half-st.npy"), 0.0)

    # Sharded safetensors, names prefixed "bert.", three shards and the index naming them.
    sharded = without_weights(model, work / "sharded")
    shards = [{}, {}, {}]
    weight_map = {}
    for i, (name, array) in enumerate(sorted(tensors.items())):
        shard_name = f"model-0000{i % 3 + 1}-of-00003.safetensors"
        shards[i % 3]["bert." + name] = array
        weight_map["bert." + name] = shard_name
    for i, shard in enumerate(shards):
        safetensors_io.save(sharded / f"model-0000{i + 1}-of-00003.safetensors", shard)
    (sharded / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {"total_size": 0}, "weight_map": weight_map}, indent=2))
    same_embeddings("sharded", sharded)

    # model.safetensors wins over a .bin beside it (as in transformers): a corrupt .bin is not read.
    both = work / "both"
    shutil.copytree(model, both)
    (both / "pytorch_model.bin").write_bytes(b"not a checkpoint")
    same_embeddings("safetensors beside a .bin", both)

    # Errors name the file and what was found.
    def refused(name, directory, *needles):
        result = encode(args, directory, work / "x.npy")
        checks.true(f"{name}: exit 1 naming {', '.join(needles)}",
                    result.returncode == 1 and all(n in result.stderr for n in needles)
                    and len(result.stderr.strip().splitlines()) == 1, result.stderr.strip())

    strided = without_weights(model, work / "strided")
    state = torch_state_dict(tensors)
    name = "encoder.layer.0.intermediate.dense.weight"
    state[name] = state[name].t().contiguous().t()  # same values, column-major strides
    torch.save(state, strided / "pytorch_model.bin")
    refused("non-contiguous tensor", strided, "pytorch_model.bin", name, "not contiguous")

    missing_shard = Path(shutil.copytree(sharded, work / "missing-shard"))
    (missing_shard / "model-00002-of-00003.safetensors").unlink()
    refused("missing shard", missing_shard, "model.safetensors.index.json",
            "model-00002-of-00003.safetensors")

    escaping = without_weights(model, work / "escaping")
    (escaping / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"x": "../model/model.safetensors"}}))
    refused("shard outside the directory", escaping, "model.safetensors.index.json",
            "../model/model.safetensors")

    legacy = without_weights(model, work / "legacy")
    torch.save(torch_state_dict(tensors), legacy / "pytorch_model.bin",
               _use_new_zipfile_serialization=False)
    refused("pre-1.6 format", legacy, "pytorch_model.bin", "legacy format")

    # Hostile pickles: each would run a command that creates a marker file when unpickled by
    # Python; simtune refuses them and the marker never appears.
    marker = work / "pwned"
    command = f"touch {marker}"
    payloads = {
        "GLOBAL os.system": b"cos\nsystem\n(X" + len(command).to_bytes(4, "little")
        + command.encode() + b"tR.",
        "STACK_GLOBAL posix.system": b"\x80\x04\x8c\x05posix\x8c\x06system\x93\x8c"
        + bytes([len(command)]) + command.encode() + b"\x85R.",
        "GLOBAL builtins.eval": b"cbuiltins\neval\n(X"
        + (len(f"__import__('os').system('{command}')")).to_bytes(4, "little")
        + f"__import__('os').system('{command}')".encode() + b"tR.",
    }
    for what, payload in payloads.items():
        # The test can see execution: Python's own unpickler runs the payload.
        subprocess.run([sys.executable, "-c", "import pickle,sys; pickle.loads(sys.stdin.buffer.read())"],
                       input=payload, capture_output=True)
        checks.true(f"{what}: Python's pickle runs it (the marker detects execution)",
                    marker.exists())
        marker.unlink(missing_ok=True)
        hostile = without_weights(model, work / f"hostile-{what.split()[1]}")
        bin_with_pickle(hostile / "pytorch_model.bin", payload)
        refused(f"{what}: refused", hostile, "pytorch_model.bin", what.split()[1])
        checks.true(f"{what}: nothing ran", not marker.exists())

    # A real torch.save checkpoint with a hostile object among its tensors.
    hostile = without_weights(model, work / "hostile-state-dict")
    state = torch_state_dict(tensors)
    state["evil"] = Evil(command)
    torch.save(state, hostile / "pytorch_model.bin")
    subprocess.run([sys.executable, "-c", f"import torch; torch.load('{hostile}/pytorch_model.bin')"],
                   capture_output=True)
    checks.true("hostile state dict: torch.load runs it (the marker detects execution)",
                marker.exists())
    marker.unlink(missing_ok=True)
    refused("hostile state dict: refused", hostile, "pytorch_model.bin", "system")
    checks.true("hostile state dict: nothing ran", not marker.exists())

    # The hub downloader fetches each layout: the .bin when there is no safetensors, the index and
    # every shard it names.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    for name, directory in (("bin", bin_model), ("sharded", sharded)):
        hub = FakeHub(directory, f"org/{name}").start()
        try:
            hub_env = dict(env, HF_HOME=str(work / f"hf-{name}"), HF_ENDPOINT=hub.url)
            result = encode(args, f"org/{name}", work / f"hub-{name}.npy", hub_env)
        finally:
            hub.stop()
        if checks.true(f"hub {name}: downloads and encodes", result.returncode == 0,
                       result.stderr.strip()):
            checks.close(f"hub {name}: bit-identical to model.safetensors",
                         np.load(work / f"hub-{name}.npy"), expected, 0.0)
        fetched = [path for method, path, _ in hub.log if method == "GET"]
        weights = [p.name for p in directory.iterdir()
                   if p.suffix in (".bin", ".safetensors") or p.name.endswith(".index.json")]
        checks.true(f"hub {name}: every weight file fetched",
                    all(any(path.endswith("/" + w) for path in fetched) for w in weights),
                    ", ".join(sorted(weights)))
        result = encode(args, f"org/{name}", work / f"hub-{name}-offline.npy",
                        dict(env, HF_HOME=str(work / f"hf-{name}"), HF_HUB_OFFLINE="1"))
        checks.true(f"hub {name}: the cached snapshot counts as complete offline",
                    result.returncode == 0, result.stderr.strip())
    checks.finish()


if __name__ == "__main__":
    main()

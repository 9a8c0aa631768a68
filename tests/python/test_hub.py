"""Hub ids end to end against a fake hub (tests/python/fake_hub.py) on 127.0.0.1: download into
huggingface_hub's cache layout, resume, integrity checks, tokens, offline use and its errors, a
name without an organisation, a Dense module's folder."""

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from fake_hub import COMMIT, FakeHub
from oracle_common import Checks, parse_args, run, tiny_config_dir, write_lines
import safetensors_io  # scripts/oracle, put on sys.path by oracle_common

REPO_ID = "org/name"
TOKEN = "hf_secret"


def simtune_env(hf_home, hub=None, **extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HF_") and k not in ("XDG_CACHE_HOME",)}
    env["HF_HOME"] = str(hf_home)
    env["HF_ENDPOINT"] = hub.url if hub else "http://127.0.0.1:9"  # discard port: refused
    env.update(extra)
    return env


def encode(args, model, output, env):
    result = subprocess.run([str(args.simtune), "encode", "--model", model, "--input",
                             str(args.workdir / "s.txt"), "--output", str(output)],
                            capture_output=True, text=True, env=env)
    return result


def cdn_gets(hub):
    return [headers for method, path, headers in hub.log
            if method == "GET" and path == "/cdn/model.safetensors"]


def check_bare_name_with_dense(args, checks, model, work):
    """"dense-hub-model" is sentence-transformers/dense-hub-model, as the library resolves it, and
    its Dense module's config and weights are downloaded with the rest."""
    local = work / "dense-local"
    shutil.copytree(model, local)
    modules = json.loads((local / "modules.json").read_text())
    modules.append({"idx": len(modules), "name": str(len(modules)), "path": "2_Dense",
                    "type": "sentence_transformers.models.Dense"})
    (local / "modules.json").write_text(json.dumps(modules))
    (local / "2_Dense").mkdir()
    hidden = json.loads((local / "config.json").read_text())["hidden_size"]
    (local / "2_Dense" / "config.json").write_text(json.dumps(
        {"in_features": hidden, "out_features": 8, "bias": True,
         "activation_function": "torch.nn.modules.activation.Tanh"}))
    rng = np.random.default_rng(0)
    safetensors_io.save(local / "2_Dense" / "model.safetensors",
                        {"linear.weight": rng.standard_normal((8, hidden), dtype=np.float32),
                         "linear.bias": rng.standard_normal(8, dtype=np.float32)})
    run([args.simtune, "encode", "--model", local, "--input", work / "s.txt", "--output", work / "dense-local.npy"])
    hub = FakeHub(local, "sentence-transformers/dense-hub-model").start()
    try:
        result = encode(args, "dense-hub-model", work / "dense-hub.npy", simtune_env(work / "hf-dense", hub))
    finally:
        hub.stop()
    checks.true("bare name downloads sentence-transformers/<name> with its Dense folder",
                result.returncode == 0, result.stderr.strip())
    if result.returncode == 0:
        checks.close("Dense model from the hub embeds as the local copy", np.load(work / "dense-hub.npy"),
                     np.load(work / "dense-local.npy"), 0.0)


def main():
    args = parse_args(__doc__.splitlines()[0])
    work = args.workdir
    model = work / "model"
    run([args.simtune, "init", "--config", tiny_config_dir(work), "--seed", "0", "--out", model])
    write_lines(work / "s.txt", ["A man is playing a guitar.", "Someone plays guitar.", "héllo"])
    run([args.simtune, "encode", "--model", model, "--input", work / "s.txt",
         "--output", work / "local.npy"])
    local = np.load(work / "local.npy")
    weights = (model / "model.safetensors").read_bytes()
    sha = hashlib.sha256(weights).hexdigest()
    checks = Checks()

    hub = FakeHub(model, REPO_ID, token=TOKEN).start()
    try:
        # First download; the connection drops once inside model.safetensors.
        hf_home = work / "hf"
        hub.drop_after["model.safetensors"] = 1000
        result = encode(args, REPO_ID, work / "hub.npy", simtune_env(hf_home, hub, HF_TOKEN=TOKEN))
        checks.true("download succeeds", result.returncode == 0, result.stderr.strip())
        if result.returncode == 0:
            checks.close("hub embeddings equal local ones", np.load(work / "hub.npy"), local, 0.0)
        gets = cdn_gets(hub)
        checks.true("dropped download resumed with Range",
                    len(gets) == 2 and gets[1].get("Range") == "bytes=1000-", str(gets))
        resolve = [h for method, path, h in hub.log if path.startswith(f"/{REPO_ID}/resolve/")]
        checks.true("HF_TOKEN sent as a Bearer token", bool(resolve) and all(
            h.get("Authorization") == f"Bearer {TOKEN}" for h in resolve))

        repo_dir = hf_home / "hub" / "models--org--name"
        snapshot = repo_dir / "snapshots" / COMMIT
        checks.true("refs/main holds the commit",
                    (repo_dir / "refs" / "main").read_text() == COMMIT)
        link = snapshot / "model.safetensors"
        checks.true("weights linked relatively to blobs/<sha256>",
                    link.is_symlink() and os.readlink(link) == f"../../blobs/{sha}")
        pooling = snapshot / "1_Pooling" / "config.json"
        checks.true("module config linked from its subfolder",
                    pooling.is_symlink() and os.readlink(pooling).startswith("../../../blobs/")
                    and pooling.read_bytes() == (model / "1_Pooling" / "config.json").read_bytes())
        same = all((snapshot / p.relative_to(model)).read_bytes() == p.read_bytes()
                   for p in model.rglob("*") if p.is_file())
        checks.true("every model file in the snapshot, unchanged", same)
        checks.true("no .incomplete left", not list((repo_dir / "blobs").glob("*.incomplete")))

        # A wrong token is refused with a hint.
        result = encode(args, REPO_ID, work / "x.npy",
                        simtune_env(work / "hf-badtoken", hub, HF_TOKEN="wrong"))
        checks.true("wrong token: exit 1 naming HF_TOKEN",
                    result.returncode == 1 and "HF_TOKEN" in result.stderr, result.stderr.strip())

        # A corrupted download is rejected and never reaches blobs/.
        hub.corrupt.add("model.safetensors")
        corrupt_home = work / "hf-corrupt"
        result = encode(args, REPO_ID, work / "x.npy",
                        simtune_env(corrupt_home, hub, HF_TOKEN=TOKEN))
        blobs = corrupt_home / "hub" / "models--org--name" / "blobs"
        checks.true("corrupt file: exit 1 naming sha256",
                    result.returncode == 1 and "sha256" in result.stderr, result.stderr.strip())
        checks.true("corrupt file not in blobs/",
                    not (blobs / sha).exists() and not (blobs / f"{sha}.incomplete").exists())
        hub.corrupt.clear()

        # A partial file left by an earlier, killed run is resumed from where it stopped.
        for name, ignore_range in (("resume", False), ("norange", True)):
            home = work / f"hf-{name}"
            blob_dir = home / "hub" / "models--org--name" / "blobs"
            blob_dir.mkdir(parents=True)
            half = len(weights) // 2
            # Garbage when the server ignores ranges: the restart must overwrite it.
            partial = weights[:half] if not ignore_range else b"\0" * half
            (blob_dir / f"{sha}.incomplete").write_bytes(partial)
            hub.ignore_range = ignore_range
            hub.log.clear()
            result = encode(args, REPO_ID, work / f"{name}.npy",
                            simtune_env(home, hub, HF_TOKEN=TOKEN))
            gets = cdn_gets(hub)
            ok = result.returncode == 0 and (blob_dir / sha).read_bytes() == weights
            checks.true(f"{name}: partial download completed", ok, result.stderr.strip())
            checks.true(f"{name}: asked for the rest with Range",
                        len(gets) == 1 and gets[0].get("Range") == f"bytes={half}-", str(gets))
        hub.ignore_range = False

        result = encode(args, "org/other", work / "x.npy", simtune_env(work / "hf-other", hub))
        checks.true("unknown repository: exit 1", result.returncode == 1, result.stderr.strip())
    finally:
        hub.stop()

    check_bare_name_with_dense(args, checks, model, work)

    # A repository without any weight file simtune reads is refused, naming what it looked for.
    bare_model = work / "bare-model"
    shutil.copytree(model, bare_model)
    (bare_model / "model.safetensors").unlink()
    bare_hub = FakeHub(bare_model, "org/bare").start()
    try:
        result = encode(args, "org/bare", work / "x.npy", simtune_env(work / "hf-bare", bare_hub))
    finally:
        bare_hub.stop()
    checks.true("no weights: exit 1 naming every layout looked for",
                result.returncode == 1 and all(name in result.stderr for name in (
                    "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")),
                result.stderr.strip())

    # Server gone: the cache serves offline, and online falls back to it.
    result = encode(args, REPO_ID, work / "offline.npy", simtune_env(hf_home, HF_HUB_OFFLINE="1"))
    checks.true("offline from the cache", result.returncode == 0, result.stderr.strip())
    if result.returncode == 0:
        checks.close("offline embeddings equal local ones", np.load(work / "offline.npy"), local, 0)
    result = encode(args, f"{REPO_ID}@{COMMIT}", work / "commit.npy",
                    simtune_env(hf_home, HF_HUB_OFFLINE="1"))
    checks.true("offline by commit hash", result.returncode == 0, result.stderr.strip())
    result = encode(args, REPO_ID, work / "fallback.npy", simtune_env(hf_home))
    checks.true("unreachable hub falls back to the cache", result.returncode == 0,
                result.stderr.strip())

    empty = work / "hf-empty"
    result = encode(args, REPO_ID, work / "x.npy", simtune_env(empty, HF_HUB_OFFLINE="1"))
    checks.true("offline, empty cache: exit 1 naming HF_HUB_OFFLINE",
                result.returncode == 1 and "HF_HUB_OFFLINE" in result.stderr,
                result.stderr.strip())
    result = encode(args, REPO_ID, work / "x.npy", simtune_env(empty))
    checks.true("unreachable, empty cache: exit 1 saying so",
                result.returncode == 1 and "cannot reach" in result.stderr
                and "HF_ENDPOINT" in result.stderr and "simtune init" in result.stderr,
                result.stderr.strip())
    checks.finish()


if __name__ == "__main__":
    main()

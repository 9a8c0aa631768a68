#!/usr/bin/python3
"""PyTorch side of `simtune bench encode`: encode throughput of the reference model
(scripts/oracle/bert_reference.py) on the same model directory and the same token ids.

Tokenization is excluded: the ids come precomputed from `simtune tokenize` (JSONL, one
{"ids": [...]} a line), so the figures time the forward pass, pooling and copying out only.
Batching follows sentence-transformers' encode(): sort by length (longest first), cut into
batches of --batch-size, pad each batch to its longest row, restore input order at the end.
sentence-transformers sorts by character length; with ids only, token length is used.

Prints one JSON object: sentences/s and tokens/s (non-padding tokens), median of --passes.

BLAS: Debian's python3-torch calls sgemm through libblas.so.3 / libopenblas.so.0, which the
machine's alternatives resolve, normally to the pthread OpenBLAS. --blas openmp (the default)
re-executes this script with LD_LIBRARY_PATH naming the OpenMP build's directory, which the
loader searches before the alternatives' links: OpenBLAS then shares libgomp's thread pool
with torch's own kernels, as simtune does, instead of keeping a second pool of threads that
spin after each GEMM and compete with torch's OpenMP threads for the same cores.

Threads: torch's default thread count is cpuinfo's count of physical cores, which on some
VMs (this one: 2 CPUs, cpuinfo says 1 core) is lower than the CPUs we may run on, so the
count is set explicitly (--threads, default: every CPU in our affinity mask).
"""

import argparse
import json
import os
import sys
import sysconfig
import time
from pathlib import Path

BLAS_DIRS = {"openmp": "openblas-openmp", "pthread": "openblas-pthread"}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, type=Path, help="sentence-transformers model directory")
    parser.add_argument("--ids", required=True, type=Path, help="JSONL from `simtune tokenize`")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--blas", choices=sorted(BLAS_DIRS), default="openmp")
    parser.add_argument("--passes", type=int, default=3, help="timed passes over all sentences")
    parser.add_argument("--warmup-batches", type=int, default=3)
    return parser.parse_args()


def reexec_with_blas(blas, threads):
    """Re-runs this script with the chosen OpenBLAS build first on the library path (the
    loader reads LD_LIBRARY_PATH only at start-up). OPENBLAS_* settings pass through."""
    marker = f"{blas}:{threads}"
    if os.environ.get("SIMTUNE_TORCH_BENCH_BLAS") == marker:
        return
    blas_dir = Path("/usr/lib") / sysconfig.get_config_var("MULTIARCH") / BLAS_DIRS[blas]
    if not (blas_dir / "libopenblas.so.0").exists():
        sys.exit(f"{blas_dir}/libopenblas.so.0 not found: install libopenblas0-{blas}")
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(blas_dir), env.get("LD_LIBRARY_PATH")]))
    # Both builds size their pools from OMP_NUM_THREADS at load time (after OPENBLAS_NUM_THREADS).
    env["OMP_NUM_THREADS"] = str(threads)
    env["SIMTUNE_TORCH_BENCH_BLAS"] = marker
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def loaded_blas():
    """Paths of the BLAS libraries actually mapped into this process."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "/" in line}
    return sorted(os.path.realpath(p) for p in paths if "blas" in os.path.basename(p))


def openblas_core():
    """The kernel family OpenBLAS picked for this CPU (or OPENBLAS_CORETYPE forced): its speed
    depends on it, so every figure names it."""
    import ctypes
    for path in loaded_blas():
        if "openblas" in os.path.basename(path):
            lib = ctypes.CDLL(path)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return lib.openblas_get_corename().decode()
    return "unknown"


def peak_rss_mib():
    """The process's own memory high-water mark (VmHWM): ru_maxrss would carry a parent's across
    exec, and this script re-executes itself."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def main():
    args = parse_args()
    reexec_with_blas(args.blas, args.threads)

    import numpy as np
    import torch
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "oracle"))
    import bert_reference

    torch.set_num_threads(args.threads)
    model = bert_reference.load_model(args.model)
    id_lists = [ids[:model.max_seq_length] for ids in bert_reference.read_ids(args.ids)]
    order = sorted(range(len(id_lists)), key=lambda i: -len(id_lists[i]))
    batches = [[id_lists[i] for i in order[start:start + args.batch_size]]
               for start in range(0, len(order), args.batch_size)]

    def encode(batch_list):
        rows = [bert_reference.forward_ids(model, batch)[2].numpy() for batch in batch_list]
        return np.concatenate(rows)

    with torch.inference_mode():
        encode(batches[:args.warmup_batches])
        seconds, cpu_seconds = [], []
        for _ in range(args.passes):
            start, cpu_start = time.perf_counter(), time.process_time()
            sorted_embeddings = encode(batches)
            embeddings = np.empty_like(sorted_embeddings)
            embeddings[order] = sorted_embeddings
            seconds.append(time.perf_counter() - start)
            # CPU time over wall time shows threads busy-waiting as well as working.
            cpu_seconds.append(time.process_time() - cpu_start)

    median = sorted(seconds)[len(seconds) // 2]
    tokens = sum(len(ids) for ids in id_lists)
    print(json.dumps({
        "engine": "pytorch " + torch.__version__,
        "blas": args.blas,
        "blas_libraries": loaded_blas(),
        "openblas_core": openblas_core(),
        "openblas_coretype_env": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
        "threads": torch.get_num_threads(),
        "batch_size": args.batch_size,
        "sentences": len(id_lists),
        "tokens": tokens,
        "tokenization": "excluded (ids from simtune tokenize)",
        "seconds": round(median, 4),
        "seconds_all_passes": [round(s, 4) for s in seconds],
        "cpu_seconds_all_passes": [round(s, 4) for s in cpu_seconds],
        "sentences_per_s": round(len(id_lists) / median, 1),
        "tokens_per_s": round(tokens / median, 1),
        "embedding_dim": int(embeddings.shape[1]),
        "peak_rss_mib": peak_rss_mib(),
    }, indent=2))


if __name__ == "__main__":
    main()

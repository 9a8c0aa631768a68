#!/usr/bin/python3
"""Data-parallel scaling on paper (docs/distributed.md): efficiency of N nodes, one rank each,
on 10/25/100 Gbit/s links, from one node's step time and the bytes a step exchanges.

Weak scaling: each rank keeps its per-rank batch, so a step's compute stays T_c whatever N, and
efficiency = T_c / (T_c + exposed communication). Strong scaling: the global batch G is fixed
(--batch-size is global) and each rank takes G/N, with T_c(b) = t0 + t1 b fitted through the two
measured batches; efficiency = T_c(G) / (N (T_c(G/N) + exposed)). Communication per step (src/train/
gradient_sync.cpp): the dense gradients by a ring allreduce, 2(N-1)/N of the buffer through each
link plus 2(N-1) message latencies; the touched word-embedding rows by a ring allgather, (N-1)
ranks' rows through each link. With overlap, the buckets of all but the last layer's gradients
travel while backward still runs (backward is about 2/3 of a step), so only what does not fit
under that is exposed; without it, all of it is.

  bench/scaling_model.py --compute-ms 16:310 64:1050 --dense-mib 42.7 --rows-mib 0.9
"""

import argparse

LINKS_GBIT = (10, 25, 100)
NODES = (2, 4, 8, 16, 32, 64)
LATENCY_S = 30e-6  # one TCP message on a switched Ethernet link
BACKWARD_SHARE = 2 / 3
LAYERS = 6  # buckets: one per encoder layer; the embeddings' bucket goes last


def comm_seconds(n, gbit, dense_bytes, rows_bytes):
    bandwidth = gbit * 1e9 / 8
    allreduce = 2 * (n - 1) / n * dense_bytes / bandwidth + 2 * (n - 1) * LATENCY_S
    allgather = (n - 1) * rows_bytes / bandwidth + (n - 1) * LATENCY_S
    return allreduce + allgather


def efficiency(compute_s, comm_s, overlap):
    if overlap:
        hidden = BACKWARD_SHARE * compute_s * (LAYERS - 1) / LAYERS
        exposed = max(comm_s - hidden, comm_s / (LAYERS + 1))
    else:
        exposed = comm_s
    return compute_s / (compute_s + exposed)


def table(title, efficiency_of):
    print(f"\n{title}")
    print("link      " + "".join(f"N={n:<7}" for n in NODES) + "largest N >= 80%")
    for gbit in LINKS_GBIT:
        row, best = [], None
        for n in NODES:
            e = efficiency_of(n, gbit)
            row.append(f"{e * 100:5.1f}%  ")
            if e >= 0.8 and (best is None or best == n // 2):
                best = n
        largest = "none" if best is None else (f">= {best}" if best == NODES[-1] else f"{best}")
        print(f"{gbit:>3} Gb/s  " + "".join(row) + largest)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compute-ms", nargs="+", required=True,
                        help="per-rank batch:step milliseconds of one node, e.g. 16:310 64:1050")
    parser.add_argument("--dense-mib", type=float, required=True, help="dense gradient MiB")
    parser.add_argument("--rows-mib", type=float, required=True,
                        help="touched embedding rows per rank per step, MiB (at batch 16)")
    args = parser.parse_args()
    mib = 1024 * 1024
    measured = {int(b): float(ms) / 1e3 for b, ms in (item.split(":") for item in args.compute_ms)}
    dense = args.dense_mib * mib

    def rows_bytes(batch):
        # Touched rows grow with the batch, sublinearly; linear is the pessimistic bound.
        return args.rows_mib * mib * batch / 16

    for batch, compute_s in sorted(measured.items()):
        for overlap in (False, True):
            table(f"weak scaling: per-rank batch {batch} ({compute_s * 1e3:.0f} ms a step), "
                  f"{'overlapped with backward' if overlap else 'no overlap'}",
                  lambda n, gbit: efficiency(compute_s, comm_seconds(
                      n, gbit, dense, rows_bytes(batch)), overlap))
    if len(measured) >= 2:
        (b0, s0), (b1, s1) = sorted(measured.items())[:2]
        slope = (s1 - s0) / (b1 - b0)
        step = lambda b: s0 + slope * (b - b0)  # noqa: E731
        g = max(measured)
        for overlap in (False, True):
            table(f"strong scaling: global batch {g} split over N, "
                  f"{'overlapped with backward' if overlap else 'no overlap'}",
                  lambda n, gbit: step(g) / n / (step(g / n) / efficiency(
                      step(g / n), comm_seconds(n, gbit, dense, rows_bytes(g / n)), overlap)))

if __name__ == "__main__":
    main()

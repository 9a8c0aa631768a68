"""simtune serve under load, bounded in time: 64 concurrent keep-alive clients send
single-sentence /embed requests for 10 s, every answer checked bit for bit against `simtune
encode`; then 10x more clients than --max-concurrent-requests: some are answered 429 at once,
none 5xx, every 200 is right, and the server's memory stays bounded."""
import json
import threading
import time

import numpy as np

import oracle_common as oc
from serve_client import Client, Server

LOAD_SECONDS = 10
OVERLOAD_SECONDS = 5


def hammer(port, texts, want, clients, seconds, batch=1):
    """`clients` threads post `batch` texts per request for `seconds`; returns status counts and
    the number of 200 answers whose rows were wrong."""
    counts, wrong, lock = {}, [0], threading.Lock()
    stop_at = time.time() + seconds

    def loop(k):
        c = Client(port, timeout=60)
        i = k
        while time.time() < stop_at:
            picked = [(i + j) % len(texts) for j in range(batch)]
            try:
                status, payload = c.request("POST", "/embed", {"inputs": [texts[p] for p in picked],
                                                               "truncate": True})
            except OSError as e:
                status, payload = type(e).__name__, b""
            ok = status != 200 or np.array_equal(np.asarray(json.loads(payload), np.float32), want[picked])
            with lock:
                counts[status] = counts.get(status, 0) + 1
                wrong[0] += not ok
            i += clients
        c.close()
    threads = [threading.Thread(target=loop, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counts, wrong[0]


def main():
    args = oc.parse_args(__doc__)
    checks = oc.Checks()
    model = args.workdir / "tiny"
    oc.run([args.simtune, "init", "--config", oc.tiny_config_dir(args.workdir), "--seed", 5, "--out", model])
    texts = oc.varied_sentences(200, 4)
    oc.write_lines(args.workdir / "texts.txt", texts)
    oc.run([args.simtune, "encode", "--model", model, "--input", args.workdir / "texts.txt", "--output",
            args.workdir / "want.npy", "--normalize", "--quiet"])
    want = np.load(args.workdir / "want.npy")

    server = Server(args.simtune, model, "--max-client-batch-size", 64)
    try:
        counts, wrong = hammer(server.port, texts, want, 64, LOAD_SECONDS)
        checks.true("64 clients: every answer 200, each its own sentence's embedding",
                    wrong == 0 and set(counts) == {200}, f"{counts}, {wrong} wrong")
        print(f"load: {counts.get(200, 0) / LOAD_SECONDS:.0f} requests/s")
    finally:
        code = server.stop()
    checks.true("exit 0 on SIGTERM after load", code == 0, "".join(server.lines[-3:]))

    server = Server(args.simtune, model, "--max-concurrent-requests", 8, "--max-client-batch-size", 64)
    try:
        rss_before = server.rss_kib()
        counts, wrong = hammer(server.port, texts, want, 80, OVERLOAD_SECONDS, batch=32)
        checks.true("overload (80 clients of 32 texts, 8 permits): 429s", counts.get(429, 0) > 0, str(counts))
        checks.true("overload: no 5xx, every 200 right", wrong == 0 and set(counts) <= {200, 429} and
                    counts.get(200, 0) > 0, f"{counts}, {wrong} wrong")
        rss = server.rss_kib()
        checks.true("overload: RSS bounded", rss < 512 * 1024,
                    f"{rss // 1024} MiB after overload, {rss_before // 1024} MiB before")
        status, _ = Client(server.port).request("GET", "/health")
        checks.true("healthy after overload", status == 200)
    finally:
        code = server.stop()
    checks.true("exit 0 on SIGTERM after overload", code == 0, "".join(server.lines[-3:]))
    checks.finish()


if __name__ == "__main__":
    main()

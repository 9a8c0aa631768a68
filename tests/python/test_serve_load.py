"""simtune serve under load, bounded in time (about 45 s; ctest runs it alone): 64 concurrent
keep-alive clients send single-sentence /embed requests for 30 s, every answer checked bit for
bit against `simtune encode`; then 10x more clients than --max-concurrent-requests: those past
the limit are answered 429 at once, none 5xx, every 200 is right, and the server's memory stays
bounded; then SIGTERM in the middle of the 64 clients' load: every request in flight is answered
(200 with its right rows, or 503 once draining) and the server exits 0."""
import json
import threading
import time

import numpy as np

import oracle_common as oc
from serve_client import Client, Server

LOAD_SECONDS = 30
OVERLOAD_SECONDS = 5


class Tally:
    """Answers by status, wrong rows, the slowest 429, and what came back for requests sent
    before a moment (`cutoff`) set while the load runs."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts, self.wrong, self.slowest_429 = {}, 0, 0.0
        self.cutoff, self.lost_before_cutoff, self.ok_after_cutoff = None, 0, 0

    def add(self, status, ok, sent, seconds):
        with self.lock:
            self.counts[status] = self.counts.get(status, 0) + 1
            self.wrong += not ok
            if status == 429:
                self.slowest_429 = max(self.slowest_429, seconds)
            if self.cutoff is not None:
                # A connection refused never reached the server (the client took its timestamp,
                # then dialled after the listener closed): not a request in flight.
                before = sent < self.cutoff and status != "ConnectionRefusedError"
                self.lost_before_cutoff += before and status not in (200, 503)
                self.ok_after_cutoff += before and status == 200 and sent + seconds > self.cutoff


def hammer(port, texts, want, clients, seconds, batch=1, during=None):
    """`clients` threads post `batch` texts per request for `seconds` (or until the server
    stops); `during`, if given, runs on this thread meanwhile with the tally. Returns the tally."""
    tally = Tally()
    stop_at = time.time() + seconds

    def loop(k):
        c = Client(port, timeout=60)
        i = k
        while time.time() < stop_at:
            picked = [(i + j) % len(texts) for j in range(batch)]
            sent = time.time()
            try:
                status, payload = c.request("POST", "/embed", {"inputs": [texts[p] for p in picked],
                                                               "truncate": True})
            except OSError as e:
                status, payload = type(e).__name__, b""
            ok = status != 200 or np.array_equal(np.asarray(json.loads(payload), np.float32), want[picked])
            tally.add(status, ok, sent, time.time() - sent)
            if isinstance(status, str) and tally.cutoff is not None:
                return  # the server stopped: new connections are refused
            i += clients
        c.close()
    threads = [threading.Thread(target=loop, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    if during:
        during(tally)
    for t in threads:
        t.join()
    return tally


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
        t = hammer(server.port, texts, want, 64, LOAD_SECONDS)
        checks.true(f"64 clients for {LOAD_SECONDS} s: every answer 200, each its own sentence's embedding",
                    t.wrong == 0 and set(t.counts) == {200}, f"{t.counts}, {t.wrong} wrong")
        print(f"load: {t.counts.get(200, 0) / LOAD_SECONDS:.0f} requests/s")
    finally:
        code = server.stop()
    checks.true("exit 0 on SIGTERM after load", code == 0, "".join(server.lines[-3:]))

    server = Server(args.simtune, model, "--max-concurrent-requests", 8, "--max-client-batch-size", 64)
    try:
        rss_before = server.rss_kib()
        t = hammer(server.port, texts, want, 80, OVERLOAD_SECONDS, batch=32)
        checks.true("overload (80 clients of 32 texts, 8 permits): 429s, each at once",
                    t.counts.get(429, 0) > 0 and t.slowest_429 < 1.0,
                    f"{t.counts}, slowest 429 after {t.slowest_429:.3f} s")
        checks.true("overload: no 5xx, every 200 right", t.wrong == 0 and set(t.counts) <= {200, 429} and
                    t.counts.get(200, 0) > 0, f"{t.counts}, {t.wrong} wrong")
        rss = server.rss_kib()
        checks.true("overload: RSS bounded", rss < 512 * 1024,
                    f"{rss // 1024} MiB after overload, {rss_before // 1024} MiB before")
        status, _ = Client(server.port).request("GET", "/health")
        checks.true("healthy after overload", status == 200)
    finally:
        code = server.stop()
    checks.true("exit 0 on SIGTERM after overload", code == 0, "".join(server.lines[-3:]))

    server = Server(args.simtune, model, "--max-client-batch-size", 64)
    codes = []

    def sigterm_midway(tally):
        time.sleep(3)
        tally.cutoff = time.time()
        codes.append(server.stop())
    try:
        t = hammer(server.port, texts, want, 64, 20, during=sigterm_midway)
    finally:
        server.stop()
    checks.true("SIGTERM under load of 64 clients: exit 0", codes == [0], "".join(server.lines[-3:]))
    checks.true("SIGTERM under load: every request sent before it answered (200 or 503), some 200 "
                "after it", t.lost_before_cutoff == 0 and t.ok_after_cutoff > 0,
                f"{t.counts}, {t.lost_before_cutoff} lost, {t.ok_after_cutoff} answered 200 after SIGTERM")
    checks.true("SIGTERM under load: every 200 right, nothing else but 503 or a refused connection",
                t.wrong == 0 and all(s in (200, 503) or isinstance(s, str) for s in t.counts),
                f"{t.counts}, {t.wrong} wrong")
    checks.finish()


if __name__ == "__main__":
    main()

"""simtune serve against offline `simtune encode` on the same sentences: throughput with N
concurrent single-sentence clients (keep-alive, bench/serve_load.js on Node), and the latency of one
16-token sentence with no other load. Prints one JSON object.
Usage: bench/serve_bench.py --simtune build/simtune --model DIR --sentences FILE"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))
from serve_client import Client, Server  # noqa: E402


def latency(port, sentence, repeats):
    c = Client(port)
    for _ in range(20):
        c.request("POST", "/embed", {"inputs": [sentence]})
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        status, _ = c.request("POST", "/embed", {"inputs": [sentence]})
        times.append(time.perf_counter() - start)
        assert status == 200
    times.sort()
    return {"p50_ms": 1000 * times[len(times) // 2], "p90_ms": 1000 * times[int(len(times) * 0.9)],
            "p99_ms": 1000 * times[int(len(times) * 0.99)]}


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--simtune", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--sentences", required=True)
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--seconds", type=float, default=20)
    args = p.parse_args()
    sentences = [s for s in Path(args.sentences).read_text().splitlines() if s.strip()]
    offline = json.loads(subprocess.run([args.simtune, "bench", "encode", "--model", args.model,
                                         "--input", args.sentences, "--json"],
                                        capture_output=True, text=True, check=True).stdout)
    server = Server(args.simtune, args.model)
    try:
        # A 16-token sentence ([CLS] and [SEP] included).
        c = Client(server.port)
        sixteen = next(s for s in sentences if len(c.json("POST", "/tokenize", {"inputs": s})[1][0]) == 16)
        lat = latency(server.port, sixteen, 300)
        load = json.loads(subprocess.run(["node", str(Path(__file__).with_name("serve_load.js")),
                                          str(server.port), args.sentences, str(args.clients),
                                          str(args.seconds)], capture_output=True, text=True,
                                         check=True).stdout)
        rate = load["requests_per_s"]
    finally:
        server.stop()
    print(json.dumps({"offline_encode": offline, "serve_sentences_per_s": rate, "clients": args.clients,
                      "node_load": load,
                      "serve_vs_offline": rate / offline["sentences_per_s"],
                      "latency_16_tokens": lat}))


if __name__ == "__main__":
    main()

"""simtune serve against offline `simtune encode` on the same sentences: throughput with N
concurrent single-sentence clients (keep-alive, bench/serve_load.js on Node), and the latency of one
16-token sentence with no other load. With --ort, the same two measures against ONNX Runtime's CPU
session serving the same weights (bench/onnx_export.py, bench/ort_server.js), after checking that
its embeddings equal simtune's within 1e-4. Prints one JSON object.
Usage: bench/serve_bench.py --simtune build/simtune --model DIR --sentences FILE [--ort]"""
import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

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


def ort_measures(args, sentences, sixteen, want, max_length):
    """Exports the model to ONNX, serves it with bench/ort_server.js and measures it as simtune
    serve is measured; `want`: simtune's embeddings of the first sentences, to check it serves
    the same weights."""
    bench = Path(__file__).resolve().parent
    with tempfile.TemporaryDirectory() as tmp:
        onnx = Path(tmp) / "model.onnx"
        subprocess.run([sys.executable, bench / "onnx_export.py", "--model", args.model, "--out", onnx],
                       check=True)
        proc = subprocess.Popen(["node", bench / "ort_server.js", onnx, args.model, str(max_length),
                                 str(args.threads)], stderr=subprocess.PIPE, text=True)
        try:
            line = proc.stderr.readline()
            port = int(re.search(r"listening on http://[^:]+:(\d+)", line).group(1))
            got = np.asarray(Client(port).json("POST", "/embed", {"inputs": sentences[:len(want)]})[1],
                             np.float32)
            max_diff = float(np.abs(got - want).max())
            if max_diff > 1e-4:
                sys.exit(f"ONNX Runtime's embeddings differ from simtune's by {max_diff}: not the same model")
            lat = latency(port, sixteen, 300)
            load = json.loads(subprocess.run(["node", bench / "serve_load.js", str(port), args.sentences,
                                              str(args.clients), str(args.seconds)],
                                             capture_output=True, text=True, check=True).stdout)
        finally:
            proc.terminate()
            proc.wait()
    return {"max_abs_diff_vs_simtune": max_diff, "node_load": load, "latency_16_tokens": lat,
            "sentences_per_s": load["requests_per_s"]}


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--simtune", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--sentences", required=True)
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--ort", action="store_true", help="also measure ONNX Runtime serving the model")
    p.add_argument("--threads", type=int, default=2, help="ONNX Runtime's intra-op threads")
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
        want = np.asarray(c.json("POST", "/embed", {"inputs": sentences[:8]})[1], np.float32)
        max_length = c.json("GET", "/info")[1]["max_input_length"]
    finally:
        server.stop()
    result = {"offline_encode": offline, "serve_sentences_per_s": rate, "clients": args.clients,
              "node_load": load, "serve_vs_offline": rate / offline["sentences_per_s"],
              "latency_16_tokens": lat}
    if args.ort:
        result["onnxruntime"] = ort_measures(args, sentences, sixteen, want, max_length)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

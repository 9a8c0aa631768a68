"""simtune serve end to end on a tiny random model, over loopback: every route's answer equals
`simtune encode` / `simtune tokenize` of the same texts bit for bit (curl, Python's http.client
and OpenAI's JavaScript SDK as clients), errors come as TEI's JSON with TEI's status codes, hostile
input (malformed JSON, wrong types, empty, huge, invalid UTF-8, a slow client) gets a 4xx or a
timeout while others are served, and SIGTERM drains and exits 0."""
import base64
import json
import os
import select
import shutil
import socket
import subprocess
import threading
import time

import numpy as np

import oracle_common as oc
from serve_client import Client, Server

KEY = "test-key"
JS_CLIENT = oc.REPO / "tests" / "js" / "openai_client.js"


def offline(args, model, texts, normalize):
    path = args.workdir / ("n.txt" if normalize else "r.txt")
    oc.write_lines(path, texts)
    out = path.with_suffix(".npy")
    oc.run([args.simtune, "encode", "--model", model, "--input", path, "--output", out, "--quiet",
            *(["--normalize"] if normalize else [])])
    return np.load(out)


def rows(payload):
    return np.asarray(payload, dtype=np.float32)


def check_embeddings(checks, client, texts, normalized, raw):
    short = [i for i, t in enumerate(texts) if len(t) < 200]
    status, got = client.json("POST", "/embed", {"inputs": [texts[i] for i in short]})
    checks.true("/embed list answers 200", status == 200, str(got)[:200])
    checks.close("/embed list == encode --normalize", rows(got), normalized[short], 0)
    status, got = client.json("POST", "/embed", {"inputs": texts, "truncate": True,
                                                 "normalize": False})
    checks.close("/embed truncate, normalize false == encode (long lines truncated)", rows(got), raw, 0)
    status, got = client.json("POST", "/embed", {"inputs": texts[-1], "truncate": True,
                                                 "truncation_direction": "left"})
    status, ids = client.json("POST", "/tokenize", {"inputs": texts[-1]})
    ids = [t["id"] for t in ids[0]]
    max_len = client.json("GET", "/info")[1]["max_input_length"]
    tail = [ids[0]] + ids[len(ids) - 1 - (max_len - 2):-1] + [ids[-1]]
    status, want = client.json("POST", "/v1/embeddings", {"input": tail})
    checks.true("left truncation keeps [CLS], the last tokens and [SEP]", len(ids) > max_len and
                np.array_equal(rows(got)[0], rows(want["data"][0]["embedding"])))
    status, got = client.json("POST", "/embed", {"inputs": texts[short[3]]})
    checks.close("/embed one string", rows(got), normalized[[short[3]]], 0)

    # Concurrent single-sentence requests land in shared batches; each must get its own row.
    results = {}

    def one(i):
        c = Client(client.port, KEY)
        results[i] = c.json("POST", "/embed", {"inputs": [texts[i]], "truncate": True})
        c.close()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = np.concatenate([rows(results[i][1]) for i in range(len(texts))])
    checks.close("concurrent single /embed == encode --normalize", got, normalized, 0)

    d = 8
    status, got = client.json("POST", "/embed", {"inputs": [texts[0]], "dimensions": d})
    cut = raw[0, :d].astype(np.float64)
    checks.close("/embed dimensions: first d values, normalized", rows(got)[0],
                 cut / max(np.linalg.norm(cut), 1e-12), 1e-6)

    status, got = client.json("POST", "/similarity", {"inputs": {
        "source_sentence": texts[0], "sentences": [texts[1], texts[2]]}})
    want = [float(raw[0].astype(np.float64) @ raw[j] / np.linalg.norm(raw[0]) / np.linalg.norm(raw[j]))
            for j in (1, 2)]
    checks.close("/similarity == cosine of encode rows", np.asarray(got), want, 1e-6)


def check_openai(args, checks, client, texts, normalized):
    short = [t for t in texts if len(t) < 200][:5]
    want = normalized[:5] if short == texts[:5] else None
    status, got = client.json("POST", "/v1/embeddings", {"input": short, "model": "x"})
    data = sorted(got["data"], key=lambda d: d["index"])
    checks.close("/v1/embeddings float == encode --normalize", rows([d["embedding"] for d in data]),
                 want, 0)
    checks.true("/v1/embeddings shape", got["object"] == "list" and got["usage"]["prompt_tokens"] > 0
                and got["usage"]["total_tokens"] == got["usage"]["prompt_tokens"], json.dumps(got)[:200])
    status, got = client.json("POST", "/v1/embeddings", {"input": short, "encoding_format": "base64"})
    decoded = np.stack([np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in got["data"]])
    checks.close("/v1/embeddings base64 == encode --normalize", decoded, want, 0)

    tokens = json.loads(oc.run([args.simtune, "tokenize", "--model", args.model, "--input",
                                args.workdir / "n.txt"]).splitlines()[0])["ids"]
    status, got = client.json("POST", "/v1/embeddings", {"input": tokens})
    checks.close("/v1/embeddings token ids == encode", rows(got["data"][0]["embedding"]), normalized[0], 0)
    status, got = client.json("POST", "/tokenize", {"inputs": [texts[0]]})
    checks.true("/tokenize ids == simtune tokenize", status == 200 and [t["id"] for t in got[0]] == tokens,
                str(got)[:200])

    texts_file = args.workdir / "openai_texts.json"
    texts_file.write_text(json.dumps(short))
    result = subprocess.run(["node", JS_CLIENT, f"http://127.0.0.1:{client.port}/v1", KEY, texts_file],
                            capture_output=True, text=True, timeout=60)
    if not checks.true("OpenAI JS SDK runs", result.returncode == 0, result.stderr.strip()[-300:]):
        return
    sdk = json.loads(result.stdout)
    checks.close("OpenAI SDK float == encode --normalize", rows(sdk["float"]), want, 0)
    checks.close("OpenAI SDK default (base64 decoded by the SDK)", rows(sdk["default"]), want, 0)
    checks.close("OpenAI SDK base64", np.stack([np.frombuffer(base64.b64decode(b), dtype="<f4")
                                                for b in sdk["base64"]]), want, 0)


def check_curl(checks, port, texts, normalized):
    if not shutil.which("curl"):
        checks.true("curl is installed", False)
        return
    out = subprocess.run(["curl", "-sS", "--max-time", "20", f"http://127.0.0.1:{port}/embed",
                          "-H", f"Authorization: Bearer {KEY}", "-H", "Content-Type: application/json",
                          "-d", json.dumps({"inputs": texts[0]})], capture_output=True, text=True)
    checks.close("curl /embed == encode --normalize", rows(json.loads(out.stdout)), normalized[:1], 0)


def expect_error(checks, name, client, path, want_status, body=None, raw=None, headers=None):
    status, payload = client.request("POST", path, body, raw=raw, headers=headers)
    try:
        err = json.loads(payload)
        shape = ("message" in err and "type" in err) if path.startswith("/v1") else \
            ("error" in err and "error_type" in err)
    except ValueError:
        err, shape = payload[:100], False
    checks.true(name, status == want_status and shape, f"status {status} (want {want_status}): {err}")


def check_errors(checks, client, texts, port):
    expect_error(checks, "malformed JSON -> 400", client, "/embed", 400, raw=b'{"inputs": ["a"')
    expect_error(checks, "not JSON at all -> 400", client, "/embed", 400, raw=b"\x00\xff garbage")
    expect_error(checks, "raw invalid UTF-8 in a string -> 400", client, "/embed", 400,
                 raw=b'{"inputs": ["caf\xc3 \xff"]}')
    expect_error(checks, "lone surrogate escape -> 400", client, "/embed", 400,
                 raw=b'{"inputs": ["\\ud800"]}')
    expect_error(checks, "inputs a number -> 422", client, "/embed", 422, {"inputs": 5})
    expect_error(checks, "inputs list of numbers -> 422", client, "/embed", 422, {"inputs": ["a", 3]})
    expect_error(checks, "normalize a string -> 422", client, "/embed", 422, {"inputs": "a", "normalize": "yes"})
    expect_error(checks, "body an array -> 422", client, "/embed", 422, ["a"])
    expect_error(checks, "missing inputs -> 422", client, "/embed", 422, {"input": "a"})
    expect_error(checks, "empty list -> 422", client, "/embed", 422, {"inputs": []})
    expect_error(checks, "empty string -> 422", client, "/embed", 422, {"inputs": ""})
    expect_error(checks, "too long without truncation -> 422", client, "/embed", 422,
                 {"inputs": [texts[-1]], "truncate": False})
    expect_error(checks, "dimensions past the model -> 422", client, "/embed", 422,
                 {"inputs": "a", "dimensions": 10000})
    expect_error(checks, "dimensions 0 -> 422", client, "/embed", 422, {"inputs": "a", "dimensions": 0})
    expect_error(checks, "prompt_name the model lacks -> 422", client, "/embed", 422,
                 {"inputs": "a", "prompt_name": "query"})
    expect_error(checks, "bad truncation_direction -> 422", client, "/embed", 422,
                 {"inputs": "a", "truncation_direction": "up"})
    expect_error(checks, "client batch past the limit -> 413", client, "/embed", 413,
                 {"inputs": ["a"] * 65})
    expect_error(checks, "payload past the limit -> 413", client, "/embed", 413,
                 {"inputs": ["word " * 60000]})
    expect_error(checks, "OpenAI: id outside the vocabulary -> 422", client, "/v1/embeddings", 422,
                 {"input": [101, 10 ** 9, 102]})
    expect_error(checks, "OpenAI: bad encoding_format -> 422", client, "/v1/embeddings", 422,
                 {"input": "a", "encoding_format": "int8"})
    expect_error(checks, "no API key -> 401", client, "/embed", 401, {"inputs": "a"},
                 headers={"Authorization": "Bearer wrong"})
    expect_error(checks, "unknown route -> 404", client, "/nowhere", 404, {"inputs": "a"})
    expect_error(checks, "similarity without sentences -> 422", client, "/similarity", 422,
                 {"inputs": {"source_sentence": "a", "sentences": []}})
    status, _ = client.request("POST", "/embed", {"inputs": "still fine"})
    checks.true("server still answers after hostile input", status == 200)

    check_slow_clients(checks, port)


def dribble(port, prefix, data, interval, seconds):
    """Sends `prefix` at once, then `data` one byte every `interval` s (looping) for up to
    `seconds`; returns how long until the server answered or closed the connection, and what it
    sent (None: never)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(prefix)
    start, i = time.time(), 0
    try:
        while time.time() - start < seconds:
            readable, _, _ = select.select([sock], [], [], interval)
            if readable:
                return time.time() - start, sock.recv(4096)
            sock.send(data[i % len(data):i % len(data) + 1])
            i += 1
    except OSError:
        return time.time() - start, b""
    finally:
        sock.close()
    return time.time() - start, None


def check_slow_clients(checks, port):
    """Clients dribbling a request a byte at a time, faster than the per-read timeout but slower
    than the whole-request deadline (--request-timeout 2): each is cut off at the deadline
    whether it is still in the headers or in the body, and others are served meanwhile."""
    headers = b"POST /embed HTTP/1.1\r\nHost: x\r\n", b"X-Slow: " + b"y" * 1000
    body = (b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 90000\r\n\r\n{\"inputs\": \"", b"z" * 89000)
    results = [None] * 20

    def slow(k):
        results[k] = dribble(port, *(headers if k % 2 == 0 else body), 0.5 if k % 2 == 0 else 0.05, 15)
    threads = [threading.Thread(target=slow, args=(k,)) for k in range(len(results))]
    for t in threads:
        t.start()
    time.sleep(0.5)
    start = time.time()
    status, _ = Client(port, KEY).request("POST", "/embed", {"inputs": "served meanwhile"})
    checks.true("served while 20 slow clients dribble", status == 200 and time.time() - start < 2)
    for t in threads:
        t.join()
    cut = [r for r in results if r[1] is not None and (r[1] == b"" or r[1].startswith(b"HTTP/1.1 4"))]
    checks.true("slow clients (headers and bodies) are cut off at the 2 s request deadline",
                len(cut) == len(results) and max(r[0] for r in results) < 4,
                f"{[(round(r[0], 1), (r[1] or b'')[:20]) for r in results]}")


def check_info_metrics(checks, client):
    status, info = client.json("GET", "/info")
    checks.true("/info", status == 200 and info["dimension"] == 32 and info["max_input_length"] == 512
                and info["max_client_batch_size"] == 64 and info["kernels"], json.dumps(info)[:300])
    status, _ = client.request("GET", "/health")
    checks.true("/health", status == 200)
    status, text = client.request("GET", "/metrics")
    text = text.decode()
    checks.true("/metrics in Prometheus text", status == 200 and
                'simtune_requests_total{route="/embed",status="200"}' in text and
                'simtune_requests_total{route="/embed",status="422"}' in text and
                "simtune_batch_tokens_bucket" in text and "simtune_queue_size 0" in text and
                "simtune_request_duration_seconds_count" in text, text[:300])


TOKENIZE_HARD = ["Café RÉSUMÉ cafe\u0301", "中文 x😀y 👍🏽", "ctrl\x01chars\u200b and [MASK] ⌘",
                 "super" * 30 + " unaffable"]


def oracle_tokens(args, texts, *flags):
    """/tokenize as TEI answers it, from Hugging Face's tokenizer (scripts/oracle): [CLS] and [SEP]
    by name without offsets, every other token as the bytes of the input it came from."""
    path = args.workdir / "tokenize_oracle.txt"
    oc.write_lines(path, texts)
    out = subprocess.run(["node", "tokenize_oracle.js", str(path), "--max-length", "1000000", "--offsets",
                          *flags], cwd=oc.REPO / "scripts" / "oracle", capture_output=True, text=True,
                         check=True).stdout
    want = []
    for text, w in zip(texts, oc.read_jsonl(out)):
        data = text.encode()
        want.append([{"id": i, "text": t, "special": True, "start": None, "stop": None} if special else
                     {"id": i, "text": data[b:e].decode(), "special": False, "start": b, "stop": e}
                     for i, (b, e), special, t in zip(w["ids"], w["offsets"], w["special"], w["tokens"])])
    return want


def check_tokenize(args, checks, client, texts):
    """POST /tokenize equals TEI's answer built from the oracle: ids, text, special, start, stop."""
    inputs = texts[:4] + TOKENIZE_HARD
    status, got = client.json("POST", "/tokenize", {"inputs": inputs})
    checks.true("/tokenize == TEI's tokens from the oracle (ids, text, special, byte offsets)",
                status == 200 and got == oracle_tokens(args, inputs), str(got)[:300])
    status, got = client.json("POST", "/tokenize", {"inputs": inputs, "add_special_tokens": False})
    checks.true("/tokenize add_special_tokens false == the oracle's without special tokens",
                status == 200 and got == oracle_tokens(args, inputs, "--no-special-tokens"), str(got)[:300])


def check_prompts(args, checks, model, texts):
    """The model's prompts: by name, its default one when none is named, include_prompt false (so
    the prompt's tokens stay out of pooling), requests with prompts of different lengths in flight
    at once; each row equals `simtune encode --prompt-name`."""
    prompted = args.workdir / "prompted"
    shutil.rmtree(prompted, ignore_errors=True)
    shutil.copytree(model, prompted)
    st_config = prompted / "config_sentence_transformers.json"
    config = json.loads(st_config.read_text()) if st_config.exists() else {}
    config.update(prompts={"query": "query: ", "doc": "represent this passage for retrieval: "},
                  default_prompt_name="doc")
    st_config.write_text(json.dumps(config))
    pooling = prompted / "1_Pooling" / "config.json"
    pooling.write_text(json.dumps(dict(json.loads(pooling.read_text()), include_prompt=False)))
    texts = [t for t in texts if len(t) < 200][:12]
    path = args.workdir / "prompt_texts.txt"
    oc.write_lines(path, texts)
    want = {}
    for name in ("query", "doc", None):
        out = args.workdir / f"prompt_{name}.npy"
        oc.run([args.simtune, "encode", "--model", prompted, "--input", path, "--output", out, "--quiet",
                "--normalize", *(["--prompt-name", name] if name else [])])
        want[name] = np.load(out)
    checks.true("prompts change the embeddings (the check can fail)",
                not np.array_equal(want["query"], want["doc"]))

    server = Server(args.simtune, prompted, "--max-client-batch-size", 64)
    try:
        results, lock = {}, threading.Lock()

        def one(i, name):
            c = Client(server.port)
            body = {"inputs": [texts[i]], **({"prompt_name": name} if name else {})}
            got = c.json("POST", "/embed", body)
            with lock:
                results[(i, name)] = got
            c.close()
        threads = [threading.Thread(target=one, args=(i, name)) for i in range(len(texts))
                   for name in ("query", "doc", None)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for name in ("query", "doc", None):
            got = [results[(i, name)] for i in range(len(texts))]
            ok = all(status == 200 for status, _ in got)
            checks.close(f"/embed prompt_name {name} (concurrent, mixed prompts) == encode --prompt-name",
                         np.concatenate([rows(p) for _, p in got]) if ok else np.zeros(1), want[name], 0)
        client = Client(server.port)
        status, got = client.json("POST", "/v1/embeddings", {"input": texts[:3], "prompt_name": "query"})
        checks.close("/v1/embeddings prompt_name == encode --prompt-name",
                     rows([d["embedding"] for d in got["data"]]), want["query"][:3], 0)
        status, got = client.json("POST", "/tokenize", {"inputs": texts[0], "prompt_name": "query"})
        oc.write_lines(args.workdir / "query.txt", ["query: " + texts[0]])
        plain = json.loads(oc.run([args.simtune, "tokenize", "--model", model, "--input",
                                   args.workdir / "query.txt"]).splitlines()[0])["ids"]
        checks.true("/tokenize prompt_name == simtune tokenize of the prompt and the text",
                    status == 200 and [t["id"] for t in got[0]] == plain, str(got)[:200])
        checks.true("/tokenize prompt_name: offsets into the prompt and the text, as TEI gives them",
                    status == 200 and got == oracle_tokens(args, ["query: " + texts[0]]), str(got)[:200])
        expect_error(checks, "unknown prompt_name -> 422", client, "/embed", 422,
                     {"inputs": "a", "prompt_name": "nope"})
        client.close()
    finally:
        code = server.stop()
    checks.true("prompted server: exit 0 on SIGTERM", code == 0, "".join(server.lines[-3:]))


def check_drain(args, checks, model, texts, normalized):
    """SIGTERM while requests are in flight: they are answered, then the server exits 0."""
    server = Server(args.simtune, model, "--max-batch-tokens", 64)
    results, lock = [], threading.Lock()

    def client_loop(i):
        c = Client(server.port)
        while True:
            try:
                status, payload = c.request("POST", "/embed", {"inputs": [texts[i % 20]]})
            except OSError:
                return  # the listener is closed: new connections are refused
            with lock:
                results.append((i % 20, status, payload))
            if status != 200:
                return
    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    code = server.stop()
    for t in threads:
        t.join(30)
    bad = [(s, p[:80]) for _, s, p in results if s not in (200, 503)]
    wrong = [i for i, s, p in results if s == 200 and not np.array_equal(rows(json.loads(p))[0], normalized[i])]
    checks.true("SIGTERM under load: exit 0", code == 0, "".join(server.lines[-5:]))
    checks.true("SIGTERM under load: answers are 200 (right rows) or 503",
                len(results) > 0 and not bad and not wrong,
                f"{len(results)} answers, bad {bad[:3]}, wrong rows {wrong[:3]}")


def check_idle_keep_alive(args, checks, model):
    """SIGTERM wakes a connection idling between keep-alive requests: the server closes it and
    exits well within httplib's 5 s keep-alive timeout, which it would otherwise wait out."""
    server = Server(args.simtune, model)
    idle = Client(server.port)
    status, _ = idle.request("GET", "/health")
    start = time.monotonic()
    code = server.stop()
    took = time.monotonic() - start
    try:
        closed = idle.conn.sock.recv(1) == b""
    except ConnectionResetError:
        closed = True
    idle.close()
    checks.true("SIGTERM with an idle keep-alive connection: closed, exit 0 in under 2.5 s",
                status == 200 and code == 0 and closed and took < 2.5, f"{took:.2f} s")


def main():
    args = oc.parse_args(__doc__)
    checks = oc.Checks()
    args.model = model = args.workdir / "tiny"
    oc.run([args.simtune, "init", "--config", oc.tiny_config_dir(args.workdir), "--seed", 3, "--out", model])
    texts = oc.varied_sentences(30, 2)
    texts.append(" ".join(texts[-2:] * 3))  # past 512 tokens: truncated at any model max length
    normalized = offline(args, model, texts, True)
    raw = offline(args, model, texts, False)

    server = Server(args.simtune, model, "--api-key", KEY, "--max-client-batch-size", 64,
                    "--payload-limit", 100000, "--max-batch-tokens", 256, "--request-timeout", 2)
    client = Client(server.port, KEY)
    try:
        check_embeddings(checks, client, texts, normalized, raw)
        check_tokenize(args, checks, client, texts)
        check_openai(args, checks, client, texts, normalized)
        check_curl(checks, server.port, texts, normalized)
        check_errors(checks, client, texts, server.port)
        check_info_metrics(checks, client)
    finally:
        client.close()
        code = server.stop()
    checks.true("SIGTERM when idle: exit 0", code == 0, "".join(server.lines[-3:]))
    server = Server(args.simtune, model)
    code = server.stop()
    checks.true("SIGTERM right after the ready line: exit 0", code == 0, "".join(server.lines[-3:]))
    check_idle_keep_alive(args, checks, model)
    check_prompts(args, checks, model, texts)
    check_drain(args, checks, model, texts, normalized)
    checks.finish()


if __name__ == "__main__":
    main()

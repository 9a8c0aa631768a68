"""A stand-in for the Hugging Face hub's resolve routes, serving one model directory on 127.0.0.1.

It answers like huggingface.co: HEAD/GET /{repo}/resolve/{revision}/{path} with X-Repo-Commit,
an ETag (the git blob id for text files; for weight files (.safetensors, .bin) X-Linked-Etag = its sha256,
X-Linked-Size and a 302 to a /cdn/ route, as LFS files are sent to a CDN), 404 with
X-Error-Code: EntryNotFound for missing files, 401 without the right token when one is required,
and HTTP Range on the CDN route. Switches let a test corrupt a file, drop a connection mid-file,
or ignore Range. Every request is logged for the test to inspect.

Run alone: python3 fake_hub.py MODEL_DIR --repo org/name  (prints the endpoint URL).
"""

import argparse
import hashlib
import http.server
import threading
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    def __init__(self, model_dir, repo="org/name", token=None):
        self.model_dir = Path(model_dir)
        self.repo = repo
        self.token = token
        self.corrupt = set()          # paths served with one byte flipped
        self.drop_after = {}          # path -> bytes sent before the connection is cut (once)
        self.ignore_range = False
        self.served_commit = COMMIT   # X-Repo-Commit (a hostile hub sends a path here)
        self.served_etag = None       # replaces every ETag when set
        self.log = []                 # (method, path, headers dict)
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_HEAD(self):
                hub._handle(self, body=False)

            def do_GET(self):
                hub._handle(self, body=True)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def _content(self, path):
        data = (self.model_dir / path).read_bytes()
        if path in self.corrupt:
            data = data[:len(data) // 2] + bytes([data[len(data) // 2] ^ 0xFF]) + data[len(data) // 2 + 1:]
        return data

    def _file(self, path):
        file = (self.model_dir / path).resolve()
        if self.model_dir.resolve() not in file.parents or not file.is_file():
            return None
        return file

    def _handle(self, h, body):
        self.log.append((h.command, h.path, dict(h.headers)))
        prefix = f"/{self.repo}/resolve/"
        if h.path.startswith("/cdn/"):
            return self._serve_cdn(h, h.path[len("/cdn/"):], body)
        if not h.path.startswith(prefix):
            return self._reply(h, 401, {"X-Error-Code": "RepoNotFound"}, b"Repository not found")
        if self.token and h.headers.get("Authorization") != f"Bearer {self.token}":
            return self._reply(h, 401, {"X-Error-Code": "RepoNotFound"}, b"Invalid credentials")
        revision, _, path = h.path[len(prefix):].partition("/")
        if revision not in ("main", COMMIT):
            return self._reply(h, 404, {"X-Error-Code": "RevisionNotFound"}, b"Revision not found")
        if self._file(path) is None:
            return self._reply(h, 404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": self.served_commit},
                               b"Entry not found")
        original = (self.model_dir / path).read_bytes()
        if path.endswith((".safetensors", ".bin")):
            sha = hashlib.sha256(original).hexdigest()
            headers = {"X-Repo-Commit": self.served_commit,
                       "X-Linked-Etag": f'"{self.served_etag or sha}"',
                       "X-Linked-Size": str(len(original)), "ETag": '"cdn-etag"',
                       "Location": f"{self.url}/cdn/{path}"}
            return self._reply(h, 302, headers, b"")
        blob_id = hashlib.sha1(b"blob %d\0" % len(original) + original).hexdigest()
        data = self._content(path)
        headers = {"X-Repo-Commit": self.served_commit, "ETag": f'"{self.served_etag or blob_id}"'}
        return self._reply(h, 200, headers, data if body else b"", length=len(data))

    def _serve_cdn(self, h, path, body):
        if self._file(path) is None:
            return self._reply(h, 404, {}, b"")
        data = self._content(path)
        start, status, headers = 0, 200, {"Accept-Ranges": "bytes"}
        requested = h.headers.get("Range")
        if requested and not self.ignore_range:
            start = int(requested.removeprefix("bytes=").split("-")[0])
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        part = data[start:]
        if not body:
            return self._reply(h, status, headers, b"", length=len(part))
        cut = self.drop_after.pop(path, None)
        if cut is not None:
            # Promise the whole body, send some of it, then close: a dropped connection.
            h.send_response(status)
            for name, value in headers.items():
                h.send_header(name, value)
            h.send_header("Content-Length", str(len(part)))
            h.end_headers()
            h.wfile.write(part[:cut])
            h.wfile.flush()
            h.close_connection = True
            return
        return self._reply(h, status, headers, part)

    @staticmethod
    def _reply(h, status, headers, data, length=None):
        h.send_response(status)
        for name, value in headers.items():
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(data) if length is None else length))
        h.end_headers()
        if data and h.command != "HEAD":
            h.wfile.write(data)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--repo", default="org/name")
    parser.add_argument("--token")
    args = parser.parse_args()
    hub = FakeHub(args.model_dir, args.repo, args.token)
    print(hub.url, flush=True)
    hub.server.serve_forever()


if __name__ == "__main__":
    main()

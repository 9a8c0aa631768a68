"""Starting `simtune serve` on a free loopback port and talking HTTP to it, for the server tests."""
import http.client
import json
import re
import subprocess
import sys
import threading
import time


class Server:
    """`simtune serve --port 0 ...` as a child process; the port comes from its ready line."""

    def __init__(self, simtune, model, *extra, ready_timeout=60):
        self.proc = subprocess.Popen([str(simtune), "serve", "--model", str(model), "--port", "0",
                                      *map(str, extra)], stderr=subprocess.PIPE, text=True)
        self.lines = []
        deadline = time.time() + ready_timeout
        self.port = None
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.lines.append(line)
            found = re.search(r"listening on http://[^:]+:(\d+)", line)
            if found:
                self.port = int(found.group(1))
                break
        if self.port is None:
            self.proc.kill()
            sys.exit("FAIL: simtune serve did not start:\n" + "".join(self.lines) +
                     self.proc.stderr.read())
        # Keep draining stderr so the server never blocks on a full pipe.
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self):
        for line in self.proc.stderr:
            self.lines.append(line)

    def stop(self, timeout=30):
        """SIGTERM, then the exit code (None if it had to be killed)."""
        self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


class Client:
    """One keep-alive connection; request() reconnects once if the server closed it."""

    def __init__(self, port, api_key=None, timeout=30):
        self.port, self.timeout = port, timeout
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.conn = None

    def request(self, method, path, body=None, headers=None, raw=None):
        """Returns (status, body bytes). body: JSON-encoded; raw: bytes sent as they are."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        all_headers = dict(self.headers, **(headers or {}))
        if data is not None:
            all_headers.setdefault("Content-Type", "application/json")
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=data, headers=all_headers)
                response = self.conn.getresponse()
                payload = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.close()
                return response.status, payload
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                self.close()
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def json(self, method, path, body=None, **kw):
        status, payload = self.request(method, path, body, **kw)
        try:
            return status, json.loads(payload) if payload else None
        except ValueError:
            return status, payload

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

"""What the deploy tests share: paths, the binary under test, free ports, a corsproxy process that reports its ready
lines, and a tiny keep-alive upstream. Standard library only (plus python3-yaml in test_manifests.py).

Environment:
  CORSPROXY_BIN   the binary the manifests are validated with and the rolling restart runs (default: the release
                  binary of `make dist`, .build-bench/release/corsproxy, else .build/debug/corsproxy)
  CORSPROXY_DIST  the tarball test_dist.py unpacks (default: the newest dist/corsproxy-*.tar.gz); without one
                  the dist checks skip, unless CORSPROXY_REQUIRE_DIST=1 (make deploy-test sets it)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEPLOY = REPO / "deploy"
READY = re.compile(r"^corsproxy listening on (https?)://(\S+)$")
ADMIN_READY = re.compile(r"^corsproxy admin listening on http://(\S+)$")
for _name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
    os.environ.pop(_name, None)


def corsproxy_bin() -> Path:
    """The binary under test; raises if none is built."""
    named = os.environ.get("CORSPROXY_BIN")
    candidates = [Path(named)] if named else [REPO / ".build-bench/release/corsproxy", REPO / ".build/debug/corsproxy"]
    for path in candidates:
        path = path if path.is_absolute() else REPO / path
        if os.access(path, os.X_OK):
            return path
    raise RuntimeError(f"no corsproxy binary among {[str(p) for p in candidates]}: run `make dist` or `make build`")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_seconds(config: dict) -> float:
    """How long the proxy may take from SIGTERM to the end of its drain: timeouts.lameDuck (default 0) plus
    timeouts.drain (default 25 s), as the proxy reads them."""
    timeouts = config.get("timeouts", {})
    return float(timeouts.get("lameDuck", 0)) + float(timeouts.get("drain", 25))


class Proxy:
    """One `corsproxy serve` process: started, waited for until its ready lines, stopped with a signal."""

    def __init__(self, binary: Path, config: Path, log: Path, cwd: Path | None = None, args: tuple = ()):
        self.binary, self.config, self.log_path, self.cwd, self.args = binary, config, log, cwd, args
        self.process: subprocess.Popen | None = None
        self.address: str | None = None
        self.admin: str | None = None

    def start(self, timeout: float = 30) -> "Proxy":
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [str(self.binary), "serve", "--config", str(self.config), *self.args],
            stdout=subprocess.PIPE, stderr=self.log, cwd=self.cwd, text=True,
        )
        deadline = time.monotonic() + timeout
        lines = []
        # The ready lines come on stdout: the main one, then the admin one when there is an admin listener.
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"corsproxy exited ({self.process.wait()}) before its ready line: {lines}; "
                                   f"log {self.log_path}")
            lines.append(line.rstrip("\n"))
            if match := READY.match(lines[-1]):
                self.address = match.group(2)
            elif match := ADMIN_READY.match(lines[-1]):
                self.admin = match.group(1)
            if self.address and (self.admin or not self.expects_admin()):
                stdout = self.process.stdout
                threading.Thread(target=lambda: (stdout.read(), stdout.close()), daemon=True).start()
                return self
        raise RuntimeError(f"no ready line within {timeout} s: {lines}")

    def expects_admin(self) -> bool:
        import json
        path = self.config if self.config.is_absolute() or self.cwd is None else Path(self.cwd) / self.config
        return "admin" in json.loads(path.read_text())

    def signal(self, sig: int = signal.SIGTERM) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        finally:
            self.log.close()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(Exception):
            self.log.close()


class _UpstreamHandler(BaseHTTPRequestHandler):
    """200 with a short body at once; `/slow?ms=N` waits N ms first (so requests are in flight at a SIGTERM);
    `/redirect` is a 302 to this upstream's own `/after` (which the proxy rewrites to itself); `/forwarding` answers
    the `X-Forwarded-*` and `Forwarded` headers it received, as a JSON object of lowercased names."""

    protocol_version = "HTTP/1.1"  # keep-alive, as a real API is
    # The head and the body go out as two writes: without TCP_NODELAY the second waits for the peer's delayed ACK
    # (40 ms a request).
    disable_nagle_algorithm = True

    def do_GET(self):
        if self.path.startswith("/slow"):
            query = parse_qs(urlsplit(self.path).query)
            time.sleep(int(query.get("ms", ["200"])[0]) / 1000)
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_address[1]}/after")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b'{"ok":true}\n'
        if self.path == "/forwarding":
            seen = {k.lower(): v for k, v in self.headers.items() if k.lower().startswith(("x-forwarded", "forwarded"))}
            body = json.dumps(seen).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _UpstreamServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # the listen() backlog: the proxies open connections in bursts


class Upstream:
    """A ThreadingHTTPServer on a loopback port, serving from a thread of its own."""

    def __enter__(self) -> "Upstream":
        self.server = _UpstreamServer(("127.0.0.1", 0), _UpstreamHandler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def http_get(host: str, port: int, path: str, headers: dict | None = None, method: str = "GET",
             timeout: float = 5) -> tuple[int, dict, bytes]:
    import http.client
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()

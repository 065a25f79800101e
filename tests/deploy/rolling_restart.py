"""Two corsproxy instances behind HAProxy, a rolling restart under steady load, every request accounted for.

    /usr/bin/python3 tests/deploy/rolling_restart.py [--threads 6] [--drain 2] [--lame-duck 0] [--haproxy NAME]
                                                      [--keep DIR]

Starts a keep-alive upstream (http.server), two `corsproxy serve` instances on loopback, each with an admin
listener and `timeouts.drain` of a couple of seconds, and HAProxy in front, checking each instance's admin
/readyz (`check port N`). Load threads send GETs (a share of them slow enough to be in flight at a SIGTERM) and
preflights through HAProxy on kept-alive connections. Meanwhile: SIGTERM A, wait for its exit (status 0), start A
again, wait until HAProxy has it UP; then the same for B. Every request that gets anything but a 2xx, or a socket
error, is a failure. Prints one JSON object: requests, failures (and the first few), latency percentiles over the
whole run and over the restart window, each instance's drain and restart times.

test_rolling_restart.py runs it and requires no failures: behind the operator's HAProxy (which retries what did not
reach an instance), and with `timeouts.lameDuck` behind one that retries nothing.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import io
import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from support import Proxy, Upstream, corsproxy_bin, free_port  # noqa: E402

ORIGIN = "http://localhost:3000"

# What an operator would write: checks of the admin listener's /readyz every 200 ms, out at the first 503, back
# after two 200s; connection failures and empty responses retried, on another server (redispatch). The numbers
# the test fills in are ports.
HAPROXY_CONFIG = """\
global
    maxconn 4096
    log stderr format raw local0 info

defaults
    mode http
    log global
    option httplog
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 30s
    option forwardfor
    # A request that could not reach an instance (connection refused: it stopped accepting at SIGTERM, and the
    # next check has not marked it down yet) is sent again, to the other server (redispatch). So is one that got
    # not a byte of answer (empty-response: a kept-alive connection the instance closed at SIGTERM just as the
    # request went out on it), but only for idempotent methods, as RFC 9110 section 9.2.2 allows.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response

frontend corsproxy
    bind 127.0.0.1:{frontend}
    default_backend corsproxy

backend corsproxy
    balance roundrobin
    http-request disable-l7-retry if !METH_GET !METH_OPTIONS !METH_PUT !METH_DELETE
    option httpchk
    http-check send meth GET uri /readyz
    http-check expect status 200
    default-server inter 200ms fall 1 rise 2
    server a 127.0.0.1:{port_a} check port {admin_a}
    server b 127.0.0.1:{port_b} check port {admin_b}

listen stats
    bind 127.0.0.1:{stats}
    stats enable
    stats uri /stats
"""


def proxy_config(upstream: int, port: int, admin: int, drain: float, lame_duck: float = 0.0) -> dict:
    return {
        "listen": f"127.0.0.1:{port}",
        "admin": {"listen": f"127.0.0.1:{admin}"},
        "log": {"format": "json"},
        "routes": [{"prefix": "/", "upstream": f"http://127.0.0.1:{upstream}"}],
        "cors": {"allowedOrigins": [ORIGIN], "allowedHeaders": ["Authorization", "Content-Type"]},
        "timeouts": {"drain": drain, "lameDuck": lame_duck},
    }


class Load:
    """Threads sending requests through HAProxy on kept-alive connections, one record per request."""

    def __init__(self, port: int, threads: int):
        self.port, self.count = port, threads
        self.records: list[tuple[float, float, bool, str, bool]] = []  # (start, seconds, ok, detail, slow)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(threads)]

    def start(self):
        for thread in self.threads:
            thread.start()

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(30)

    def run(self, index: int):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        n = 0
        while not self.stopping.is_set():
            n += 1
            # Thread 0 asks for slow answers (300 ms upstream), so a SIGTERM always finds requests in flight;
            # every fifth request of the others is a preflight, which the proxy answers itself.
            if index == 0:
                method, path, headers = "GET", f"/slow?ms=300&n={n}", {"Origin": ORIGIN}
            elif n % 5 == 0:
                method, path = "OPTIONS", f"/rest/v1.0/projects?n={n}"
                headers = {"Origin": ORIGIN, "Access-Control-Request-Method": "PATCH",
                           "Access-Control-Request-Headers": "authorization"}
            else:
                method, path, headers = "GET", f"/rest/v1.0/me?n={n}", {"Origin": ORIGIN, "Authorization": "Bearer t"}
            headers["Host"] = "127.0.0.1"
            started = time.monotonic()
            try:
                connection.request(method, path, headers=headers)
                response = connection.getresponse()
                response.read()
                ok = 200 <= response.status < 300
                detail = f"{method} {response.status}"
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
            except (OSError, http.client.HTTPException) as error:
                ok, detail = False, f"{method} {type(error).__name__}: {error}"
                connection.close()
            with self.lock:
                self.records.append((started, time.monotonic() - started, ok, detail, index == 0))
        connection.close()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def haproxy_status(stats: int) -> dict[str, str]:
    """Each server's state as HAProxy's stats page has it; {} while HAProxy is not listening yet."""
    connection = http.client.HTTPConnection("127.0.0.1", stats, timeout=2)
    try:
        connection.request("GET", "/stats;csv")
        text = connection.getresponse().read().decode()
    except OSError:
        return {}
    finally:
        connection.close()
    rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
    return {row["svname"]: row["status"] for row in rows if row["pxname"] == "corsproxy" and row["svname"] in ("a", "b")}


def wait_for(predicate, timeout: float, what: str, detail=lambda: ""):
    """Polls `predicate` until it holds; else raises, with what `detail()` says of the state it was stuck in."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise TimeoutError(f"{what} within {timeout} s; {detail()}")


# Variants of the HAProxy config, to see what each retry setting saves (--haproxy NAME): "operator" is the one above.
VARIANTS = {
    "operator": lambda text: text,
    # Only HAProxy's defaults: 3 retries to the same server on a connection failure, no L7 retries.
    "no-retry-on": lambda text: text.replace("    retry-on conn-failure empty-response\n", ""),
    "no-retries": lambda text: text.replace("    retries 3\n", "    retries 0\n")
    .replace("    option redispatch 1\n", "")
    .replace("    retry-on conn-failure empty-response\n", ""),
}


def run(threads: int = 6, drain: float = 2.0, settle: float = 2.0, work: Path | None = None,
        variant: str = "operator", lame_duck: float = 0.0) -> dict:
    binary = corsproxy_bin()
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    own_work = work is None
    work = Path(tempfile.mkdtemp(prefix="corsproxy-rolling-")) if own_work else work
    work.mkdir(parents=True, exist_ok=True)
    ports = {name: free_port() for name in ("frontend", "port_a", "admin_a", "port_b", "admin_b", "stats")}
    instances: dict[str, Proxy] = {}
    haproxy_process = None
    load = None
    try:
        with Upstream() as upstream:
            for name in ("a", "b"):
                config = work / f"{name}.json"
                config.write_text(json.dumps(proxy_config(upstream.port, ports[f"port_{name}"],
                                                          ports[f"admin_{name}"], drain, lame_duck), indent=2))
                instances[name] = Proxy(binary, config, work / f"{name}.log").start()
            (work / "haproxy.cfg").write_text(VARIANTS[variant](HAPROXY_CONFIG.format(**ports)))
            check = subprocess.run([haproxy, "-c", "-f", str(work / "haproxy.cfg")], capture_output=True, text=True)
            if check.returncode != 0:
                raise RuntimeError(f"haproxy -c: {check.stdout}{check.stderr}")
            haproxy_log = open(work / "haproxy.log", "wb")
            haproxy_process = subprocess.Popen([haproxy, "-db", "-f", str(work / "haproxy.cfg")],
                                               stdout=haproxy_log, stderr=haproxy_log)
            def haproxy_state() -> str:
                haproxy_log.flush()
                log = (work / "haproxy.log").read_text(errors="replace").splitlines()
                return (f"HAProxy {'exited ' + str(haproxy_process.poll()) if haproxy_process.poll() is not None else 'runs'}"
                        f", stats {haproxy_status(ports['stats'])}, ports {ports}, log: {log[-5:]}")

            wait_for(lambda: haproxy_status(ports["stats"]) == {"a": "UP", "b": "UP"}, 10,
                     "HAProxy sees both instances UP", haproxy_state)

            load = Load(ports["frontend"], threads)
            load.start()
            time.sleep(settle)
            restart_began = time.monotonic()
            steps = {}
            for name in ("a", "b"):
                instance = instances[name]
                signalled = time.monotonic()
                instance.signal(signal.SIGTERM)
                status = instance.wait(timeout=lame_duck + drain + 15)
                exited = time.monotonic()
                instances[name] = Proxy(binary, instance.config, instance.log_path).start()
                ready = time.monotonic()
                # A quick restart can fall between two checks, so that HAProxy never showed it DOWN: UP means
                # the new process passed checks only once `rise` (2) intervals of 200 ms have passed since.
                time.sleep(0.2 * 3)
                wait_for(lambda: haproxy_status(ports["stats"]).get(name) == "UP", 10, f"HAProxy sees {name} UP",
                         haproxy_state)
                up = time.monotonic()
                steps[name] = {"exitStatus": status, "drainSeconds": round(exited - signalled, 3),
                               "startSeconds": round(ready - exited, 3), "backInRotationSeconds": round(up - ready, 3)}
            restart_ended = time.monotonic()
            time.sleep(settle)
            load.stop()

            records = load.records
            failures = [r for r in records if not r[2]]
            window = [r for r in records if restart_began <= r[0] <= restart_ended]
            result = {
                "binary": str(binary),
                "haproxyConfig": variant,
                "threads": threads,
                "drain": drain,
                "lameDuck": lame_duck,
                "requests": len(records),
                "failures": len(failures),
                "firstFailures": [f"t={r[0] - restart_began:+.3f}s {r[3]}" for r in failures[:10]],
                # Latency of the ordinary requests (the slow thread's 300 ms ones are counted, not timed here).
                "p50Ms": round(percentile([r[1] for r in records if not r[4]], 50) * 1000, 2),
                "p99Ms": round(percentile([r[1] for r in records if not r[4]], 99) * 1000, 2),
                "restartWindowSeconds": round(restart_ended - restart_began, 3),
                "restartWindowRequests": len(window),
                "restartWindowP99Ms": round(percentile([r[1] for r in window if not r[4]], 99) * 1000, 2),
                "restartWindowMaxMs": round(max((r[1] for r in window if not r[4]), default=0) * 1000, 2),
                "slowRequests": sum(1 for r in records if r[4]),
                "slowMaxMs": round(max((r[1] for r in records if r[4]), default=0) * 1000, 2),
                "steps": steps,
                "work": str(work),
            }
            haproxy_log.flush()
            # HAProxy's log line has the retry count as the last of its connection counters ("+N" when
            # redispatched): count the requests it retried, which the clients never saw fail.
            with open(work / "haproxy.log", errors="replace") as log:
                result["haproxyRetried"] = sum(1 for line in log if _retries(line) > 0)
            return result
    finally:
        if load:
            load.stopping.set()
        if haproxy_process:
            haproxy_process.terminate()
            haproxy_process.wait(10)
        for instance in instances.values():
            instance.stop()
        if own_work and work and not getattr(run, "keep", False):
            shutil.rmtree(work, ignore_errors=True)


_FIVE = re.compile(r"^[+-]?\d+(/[+-]?\d+){4}$")


def _retries(line: str) -> int:
    """The retries field of an `option httplog` line. Its first five-part a/b/c/d/e field is the timers, the
    second the connection counters actconn/feconn/beconn/srv_conn/retries ("+N" when redispatched)."""
    fields = [token for token in line.split() if _FIVE.match(token)]
    return int(fields[1].split("/")[4].lstrip("+")) if len(fields) >= 2 else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=6)
    parser.add_argument("--drain", type=float, default=2.0)
    parser.add_argument("--lame-duck", type=float, default=0.0,
                        help="timeouts.lameDuck: seconds each instance serves on after SIGTERM, /readyz 503")
    parser.add_argument("--haproxy", choices=sorted(VARIANTS), default="operator",
                        help="the HAProxy config: the operator's, or one with fewer retries")
    parser.add_argument("--keep", type=Path, help="keep configs and logs in this directory")
    args = parser.parse_args()
    result = run(threads=args.threads, drain=args.drain, work=args.keep, variant=args.haproxy,
                 lame_duck=args.lame_duck)
    print(json.dumps(result, indent=2))
    return 0 if result["failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

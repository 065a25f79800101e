"""The measuring half of bench/instructions (which sets up the work directory and the upstream, then runs this).

For every scenario and every binary (corsproxy, or A and B; nginx as the peer), one fresh process under
`valgrind --tool=callgrind`: warm-up requests, then `callgrind_control --zero`, then two phases of exactly N
requests, each ended by `callgrind_control --dump`. Each dump holds only its phase's instructions: start-up, the
warm-up (connections opened, lazy initialisation) and shutdown are in neither. Per request = phase / N, and the same
per function (self cost); the figure is the mean of the two phases, and their difference shows the noise.

Exit status: 0, 1 when a response check failed or a proxy did not exit cleanly, 2 when something could not be set up.
"""

import argparse
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixtures  # noqa: E402

ORIGIN = "http://localhost:3000"
TOKEN = "Bearer bench-7dd5f2c94a1e4b0c8f3a6e21d9b04c55"
CALLGRIND = ["valgrind", "--tool=callgrind", "--separate-threads=no", "--dump-instr=no", "--dump-line=no",
             "--collect-jumps=no", "--vgdb=yes"]
SCENARIOS = ["get", "preflight", "post", "download"]
LABELS = {"get": "GET 4 KB JSON", "preflight": "preflight OPTIONS", "post": "POST 16 KiB JSON",
          "download": "1 MiB download"}


class SetupError(Exception):
    pass


# --- the client ---------------------------------------------------------------------------------------------------

class Scenario:
    """One kind of request, as bench/wrk/*.lua sends it, and the response every one of them must get."""

    def __init__(self, name, work):
        def read(path):
            return open(f"{work}/{path}", "rb").read()

        self.name = name
        common = f"Origin: {ORIGIN}\r\n"
        if name == "get":
            head = ("GET /rest/v1.0/projects?company_id=8&page=1&per_page=10 HTTP/1.1\r\n" + common +
                    f"Authorization: {TOKEN}\r\nProcore-Company-Id: 8\r\nAccept: application/json\r\n"
                    f"Referer: {ORIGIN}/projects\r\n")
            body, self.status, self.body = b"", 200, read(fixtures.PROJECTS_PATH)
        elif name == "preflight":
            head = ("OPTIONS /rest/v1.0/rfis?project_id=42 HTTP/1.1\r\n" + common +
                    "Access-Control-Request-Method: POST\r\n"
                    "Access-Control-Request-Headers: authorization,content-type,procore-company-id\r\n"
                    f"Referer: {ORIGIN}/projects\r\n")
            body, self.status, self.body = b"", 204, b""
        elif name == "post":
            body = read(fixtures.POST_BODY_PATH)
            head = ("POST /rest/v1.0/rfis?project_id=42 HTTP/1.1\r\n" + common +
                    f"Authorization: {TOKEN}\r\nProcore-Company-Id: 8\r\nContent-Type: application/json\r\n"
                    f"Accept: application/json\r\nContent-Length: {len(body)}\r\n")
            self.status, self.body = 201, read(fixtures.CREATED_PATH)
        elif name == "download":
            head = "GET /files/1m.bin HTTP/1.1\r\n" + common + f"Authorization: {TOKEN}\r\n"
            body, self.status, self.body = b"", 200, read(fixtures.DOWNLOAD_PATH)
        else:
            raise SetupError(f"unknown scenario {name}")
        self.head, self.request_body = head, body

    def request(self, port):
        return (f"{self.head}Host: 127.0.0.1:{port}\r\n\r\n").encode() + self.request_body


class Connection:
    """One keep-alive HTTP/1.1 client connection: Content-Length and chunked bodies."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def _fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("connection closed by the proxy")
        self.buf += data

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def _line(self):
        while (i := self.buf.find(b"\r\n")) < 0:
            self._fill()
        return self._take(i + 2)[:-2]

    def exchange(self, request, method):
        self.sock.sendall(request)
        while (end := self.buf.find(b"\r\n\r\n")) < 0:
            self._fill()
        head = self._take(end + 4).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            parts = []
            while (size := int(self._line().split(b";")[0], 16)) > 0:
                parts.append(self._take(size))
                self._line()
            while self._line():
                pass
            body = b"".join(parts)
        elif "content-length" in headers:
            body = self._take(int(headers["content-length"]))
        else:
            raise ConnectionError(f"status {status} with neither Content-Length nor chunked on a keep-alive connection")
        return status, headers, body

    def close(self):
        self.sock.close()


def load(port, scenario, count, connections):
    """Exactly COUNT requests over CONNECTIONS keep-alive connections at once, every response checked.
    Returns a list of problems (empty when all were right)."""
    request = scenario.request(port)
    method = request.split(b" ", 1)[0].decode()
    problems = []
    lock = threading.Lock()
    conns = [Connection(port) for _ in range(connections)]

    def run(conn, share):
        try:
            for _ in range(share):
                status, headers, body = conn.exchange(request, method)
                problem = None
                if status != scenario.status:
                    problem = f"status {status}, expected {scenario.status}"
                elif body != scenario.body:
                    problem = f"a body of {len(body)} bytes that differs from the upstream's ({len(scenario.body)})"
                elif headers.get("access-control-allow-origin") != ORIGIN:
                    problem = f"Access-Control-Allow-Origin {headers.get('access-control-allow-origin')!r}"
                if problem:
                    with lock:
                        problems.append(problem)
                    return
        except (OSError, ValueError, IndexError) as error:
            with lock:
                problems.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=run, args=(c, count // connections + (i < count % connections)))
               for i, c in enumerate(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in conns:
        c.close()
    return problems


# --- callgrind output ---------------------------------------------------------------------------------------------

def parse_callgrind(path):
    """(total Ir, {(object path, function): self Ir}) from a callgrind.out file (positions: line, events: Ir)."""
    names = {"ob": {}, "fl": {}, "fn": {}}
    kinds = {"ob": "ob", "cob": "ob", "fl": "fl", "fi": "fl", "fe": "fl", "cfi": "fl", "cfl": "fl",
             "fn": "fn", "cfn": "fn"}
    ob = fn = ""
    costs = {}
    total = None
    skip_next = False
    current = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            c = line[:1]
            if c.isdigit() or c in "+-*":
                if skip_next:  # the inclusive cost of a call, not this function's own
                    skip_next = False
                    continue
                parts = line.split()
                if len(parts) > 1:
                    current[0] += int(parts[1])
                continue
            key, eq, value = line.rstrip("\n").partition("=")
            if eq and key in kinds:
                value = value.strip()
                m = re.match(r"\((\d+)\)(?: (.*))?$", value)
                if m:
                    table = names[kinds[key]]
                    if m.group(2) is not None:
                        table[m.group(1)] = m.group(2)
                    value = table.get(m.group(1), "?")
                if key == "ob":
                    ob = value
                elif key == "fn":
                    fn = value
                    current = costs.setdefault((ob, fn), [0])
                continue
            if key == "calls" and eq:
                skip_next = True
            elif line.startswith("summary:"):
                total = int(line.split()[1])
    if total is None:
        raise SetupError(f"{path}: no summary line")
    return total, {k: v[0] for k, v in costs.items()}


def object_name(path, corsproxy_paths):
    if path in corsproxy_paths:
        return "corsproxy"
    base = os.path.basename(path) or "???"
    return re.sub(r"\.so(\.[0-9.]*)?$", "", base)


def swift_module(fn):
    """The Swift module a mangled name belongs to, or a rough kind for the rest of the corsproxy binary."""
    m = re.match(r"\$s(\d+)", fn)
    if m:
        n = int(m.group(1))
        return fn[2 + len(m.group(1)):2 + len(m.group(1)) + n]
    if fn.startswith(("$ss", "$sS")):
        return "Swift"
    if fn.startswith("$s"):
        return "Swift"
    if "llhttp" in fn:
        return "llhttp"
    if "swift" in fn.lower():
        return "Swift runtime"
    return "C/C++"


_demangled = {}


def demangle(names):
    """Swift names simplified with `swift demangle`, when it is there; the rest unchanged."""
    todo = sorted({n for n in names if n.startswith("$s") and n not in _demangled})
    if todo and shutil.which("swift"):
        try:
            out = subprocess.run(["swift", "demangle", "--simplified", "--compact"], input="\n".join(todo) + "\n",
                                 capture_output=True, text=True, timeout=120).stdout.split("\n")
            if len(out) >= len(todo):
                _demangled.update(zip(todo, out))
        except (OSError, subprocess.SubprocessError):
            pass
    return {n: _demangled.get(n, n) for n in names}


# --- the processes ------------------------------------------------------------------------------------------------

class Runner:
    def __init__(self, args):
        self.args = args
        self.work = args.work
        self.procs = set()
        self.lock = threading.Lock()
        self.slots = queue.Queue()
        for slot, port in enumerate(args.nginx_ports):
            self.slots.put((slot, port))
        self.scenarios = {name: Scenario(name, self.work) for name in SCENARIOS}
        self.stopping = False

    def spawn(self, cmd, stdout, stderr):
        with self.lock:
            if self.stopping:
                raise SetupError("stopping")
            proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, cwd=self.work)
            self.procs.add(proc)
            return proc

    def kill_all(self):
        with self.lock:
            self.stopping = True
            procs = list(self.procs)
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def measure(self, role, binary, scenario, count, warmup):
        """One process under callgrind: the WARMUP requests ([(scenario, count)]), then two phases of COUNT; returns
        ([(total, functions)] per phase, problems)."""
        slot, nginx_port = self.slots.get()
        try:
            return self._measure(role, binary, scenario, count, warmup, slot, nginx_port)
        finally:
            self.slots.put((slot, nginx_port))

    def _measure(self, role, binary, scenario, count, warmup, slot, nginx_port):
        tag = f"{role.split()[0]}-{scenario}"
        out_file = f"{self.work}/callgrind.{tag}.out"
        prefix = f"{self.work}/vgdb-{tag}"
        log = open(f"{self.work}/{tag}.valgrind.log", "w")
        stdout_path = f"{self.work}/{tag}.stdout"
        stdout = open(stdout_path, "w")
        options = CALLGRIND + [f"--callgrind-out-file={out_file}", f"--vgdb-prefix={prefix}"]
        if role == "nginx":
            cmd = options + ["nginx", "-p", self.work, "-c", f"{self.work}/nginx-proxy-{slot}.conf",
                             "-e", f"{self.work}/nginx-proxy-{slot}-error.log"]
        else:
            cmd = options + [binary, "serve", "--config", f"{self.work}/corsproxy.json", "--listen", "127.0.0.1:0",
                             "--log-level", "warning"]
        proc = self.spawn(cmd, stdout, log)
        phases, problems = [], []
        try:
            port = self._wait_ready(proc, role, nginx_port, stdout_path, log.name)
            for name, n in warmup:
                if not problems:
                    problems += load(port, self.scenarios[name], n, self.args.connections)
            self._control(proc, prefix, "--zero")
            for phase in (1, 2):
                if not problems:
                    problems += load(port, self.scenarios[scenario], count, self.args.connections)
                self._control(proc, prefix, f"--dump=phase{phase}")
                phases.append(parse_callgrind(f"{out_file}.{phase}"))
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                status = proc.wait(timeout=300)
            except subprocess.TimeoutExpired:
                proc.kill()
                status = proc.wait()
            log.close()
            stdout.close()
            with self.lock:
                self.procs.discard(proc)
        if status != 0:
            problems.append(f"exited with status {status}; see {log.name}")
        if not self.args.keep:
            for path in (out_file, f"{out_file}.1", f"{out_file}.2"):
                if os.path.exists(path):
                    os.remove(path)
        return phases, [f"{role} {scenario}: {p}" for p in problems]

    def _control(self, proc, prefix, action):
        """callgrind_control ACTION for PROC; it returns once valgrind has done it (a dump is written by then)."""
        try:
            done = subprocess.run(["callgrind_control", f"--vgdb-prefix={prefix}", action, str(proc.pid)],
                                  capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            raise SetupError(f"callgrind_control {action} timed out")
        if done.returncode != 0 or "OK" not in done.stdout:
            raise SetupError(f"callgrind_control {action} failed (it needs vgdb, which uses ptrace): "
                             f"{(done.stdout + done.stderr).strip()}")

    def _wait_ready(self, proc, role, nginx_port, stdout_path, log_path):
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SetupError(f"{role} exited with status {proc.returncode} before it listened: {tail(log_path)}")
            if role == "nginx":
                try:
                    socket.create_connection(("127.0.0.1", nginx_port), timeout=1).close()
                    return nginx_port
                except OSError:
                    pass
            else:
                m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", open(stdout_path).read())
                if m:
                    return int(m.group(1))
            time.sleep(0.05)
        raise SetupError(f"{role} did not start within 180 s")


def tail(path, lines=5):
    try:
        return " | ".join(open(path).read().strip().split("\n")[-lines:])
    except OSError:
        return "(no log)"


# --- the report ---------------------------------------------------------------------------------------------------

def per_request(phases, n, corsproxy_paths):
    """Instructions per request — the mean of the phases, their spread ((max − min) / mean) and
    {(object, module, function): mean Ir} — from the phases' callgrind dumps of N requests each."""
    totals = [total / n for total, _ in phases]
    functions = {}
    for _, fns in phases:
        for (ob, fn), cost in fns.items():
            obj = object_name(ob, corsproxy_paths)
            k = (obj, swift_module(fn) if obj == "corsproxy" else "", fn)
            functions[k] = functions.get(k, 0) + cost / n / len(phases)
    mean = sum(totals) / len(totals)
    return mean, (max(totals) - min(totals)) / mean, functions


def group(functions, by):
    out = {}
    for key, value in functions.items():
        k = by(key)
        out[k] = out.get(k, 0) + value
    return out


def fmt(x):
    return f"{x:,.0f}"


def fmt_k(x):
    return f"{x / 1000:,.1f}k" if abs(x) >= 1000 else f"{x:,.0f}"


def where(key):
    obj, module, _ = key
    return f"{obj}/{module}" if module else obj


def clip(name, width=100):
    return name if len(name) <= width else name[:width - 1] + "…"


def summary_line(total, functions):
    objects = sorted(group(functions, lambda k: k[0]).items(), key=lambda kv: -kv[1])
    parts = [f"{obj} {fmt_k(v)} ({100 * v / total:.0f} %)" for obj, v in objects if abs(v) >= total * 0.005]
    line = ", ".join(parts)
    modules = sorted(group({k: v for k, v in functions.items() if k[0] == "corsproxy"}, lambda k: k[1]).items(),
                     key=lambda kv: -kv[1])
    if modules:
        line += "; in corsproxy: " + ", ".join(f"{m} {fmt_k(v)}" for m, v in modules[:8] if v >= total * 0.005)
    return line + "; the kernel's side of syscalls is not counted"


def print_top(title, total, functions, k):
    names = demangle([key[2] for key in functions])
    print(f"\n{title} — top {k} functions by own (self) instructions per request, of {fmt(total)}:\n")
    print("| instructions/request | share | where | function |")
    print("|---:|---:|---|---|")
    for key, value in sorted(functions.items(), key=lambda kv: -kv[1])[:k]:
        print(f"| {fmt(value)} | {100 * value / total:.1f} % | {where(key)} | `{clip(names[key[2]])}` |")


def print_delta(title, a_total, a_fns, b_total, b_fns, k):
    keys = set(a_fns) | set(b_fns)
    names = demangle([key[2] for key in keys])
    delta = {key: b_fns.get(key, 0) - a_fns.get(key, 0) for key in keys}
    print(f"\n{title} — B − A = {b_total - a_total:+,.0f} per request; the {k} largest changes by function (self):\n")
    ga, gb = group(a_fns, lambda x: x[0]), group(b_fns, lambda x: x[0])
    moved = sorted(set(ga) | set(gb), key=lambda o: -abs(gb.get(o, 0) - ga.get(o, 0)))
    print("by object: " + ", ".join(f"{o} {gb.get(o, 0) - ga.get(o, 0):+,.0f}" for o in moved
                                    if abs(gb.get(o, 0) - ga.get(o, 0)) >= 1) + "\n")
    print("| A | B | B − A | where | function |")
    print("|---:|---:|---:|---|---|")
    for key, d in sorted(delta.items(), key=lambda kv: -abs(kv[1]))[:k]:
        if abs(d) < 0.5:
            break
        print(f"| {fmt(a_fns.get(key, 0))} | {fmt(b_fns.get(key, 0))} | {d:+,.0f} | {where(key)} | "
              f"`{clip(names[key[2]])}` |")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--work", required=True)
    p.add_argument("--nginx-ports", type=lambda s: [int(x) for x in s.split(",")], required=True)
    p.add_argument("--binary", action="append", nargs=2, metavar=("ROLE", "PATH"), required=True)
    p.add_argument("--label", default="")
    p.add_argument("--peer", choices=["nginx", "none"], required=True)
    p.add_argument("--scenarios", required=True)
    p.add_argument("--requests", type=int, required=True)
    p.add_argument("--download-requests", type=int, required=True)
    p.add_argument("--connections", type=int, required=True)
    p.add_argument("--top", type=int, required=True)
    p.add_argument("--jobs", type=int, required=True)
    p.add_argument("--warmup", type=int, required=True)
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()
    scenarios = args.scenarios.split(",")
    ab = len(args.binary) == 2
    started = time.monotonic()
    runner = Runner(args)

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)

    # Stripped copies load several times faster under valgrind and keep the symbol table.
    binaries = {}
    for role, path in args.binary:
        copy = f"{args.work}/corsproxy-{role}"
        strip = subprocess.run(["objcopy", "--strip-debug", path, copy]) if shutil.which("objcopy") else None
        binaries[role] = copy if strip and strip.returncode == 0 else path
    corsproxy_paths = set(binaries.values())
    roles = list(binaries) + (["nginx"] if args.peer == "nginx" else [])

    counts = {s: args.download_requests if s == "download" else args.requests for s in scenarios}
    # The warm-up opens the connections (client and upstream), fills the proxy's caches, and runs past the
    # inspector's ring (1,000 exchanges on a loopback listener): once it is full every request evicts one, before
    # it only appends, and the phases must both be in that steady state. The download fills the ring with
    # preflights, then evicts preflight entries in both phases (2 × its N < 1,000).
    ring = args.warmup
    warmups = {s: [(s, max(ring, 2 * args.connections))] for s in scenarios}
    if "download" in warmups:
        warmups["download"] = [("preflight", ring), ("download", 2 * args.connections)]
    # The longest first (GET and POST through libcurl, the corsproxy roles), so that the slots stay busy to the end.
    weight = {"get": 4, "post": 5, "download": 6, "preflight": 1}
    jobs = sorted(((role, s) for s in scenarios for role in roles),
                  key=lambda j: -weight[j[1]] * (1 if j[0] == "nginx" else 4))
    results, problems = {}, []
    try:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {pool.submit(runner.measure, role, binaries.get(role), s, counts[s], warmups[s]): (role, s)
                       for role, s in jobs}
            for future, (role, s) in futures.items():
                phases, bad = future.result()
                results[role, s] = phases
                problems += bad
                print(f"  {role} {s}: " + ", ".join(f"{t / counts[s]:,.0f}" for t, _ in phases) +
                      " instructions per request in the two phases", file=sys.stderr)
    except SetupError as error:
        runner.kill_all()
        print(f"bench/instructions: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        runner.kill_all()
        return 130

    if problems:
        for problem in problems[:20]:
            print(f"  ✗ {problem}", file=sys.stderr)
        print(f"bench/instructions: {len(problems)} problem(s); no figures", file=sys.stderr)
        return 1

    figures = {(role, s): per_request(results[role, s], counts[s], corsproxy_paths) for role in roles for s in scenarios}
    print()
    if ab:
        print(f"A = {args.binary[0][1]}, B = {args.binary[1][1]}")
    else:
        print(f"corsproxy = {args.binary[0][1]}{' (' + args.label + ')' if args.label else ''}")
    print(f"Instructions per request, callgrind (all threads, user space); {args.connections} keep-alive connections; "
          f"a warm-up of {args.warmup}, then two phases of N requests (N = {args.requests}, download {args.download_requests}), every "
          f"response checked; the mean of the two phases, ± their difference ÷ mean; {time.monotonic() - started:.0f} s.\n")
    first = args.binary[0][0]
    last = args.binary[-1][0]
    cols = ["scenario"] + (["A", "±", "B", "±", "B ÷ A"] if ab else ["corsproxy", "±"])
    if args.peer == "nginx":
        cols += ["nginx", "±", f"{'B' if ab else 'corsproxy'} ÷ nginx"]
    print("| " + " | ".join(cols) + " |")
    print("|---" + "|---:" * (len(cols) - 1) + "|")

    def cell(role, s):
        mean, spread, _ = figures[role, s]
        return [fmt(mean), f"{100 * spread:.2f} %"]

    for s in scenarios:
        cells = cell(first, s)
        if ab:
            cells += cell(last, s) + [f"{figures[last, s][0] / figures[first, s][0]:.4f}"]
        if args.peer == "nginx":
            cells += cell("nginx", s) + [f"{figures[last, s][0] / figures['nginx', s][0]:.2f}×"]
        print(f"| {LABELS[s]} | " + " | ".join(cells) + " |")

    for s in scenarios:
        print(f"\n### {LABELS[s]}\n")
        for role in roles:
            total, _, functions = figures[role, s]
            print(f"- {role}: {fmt(total)} per request = {summary_line(total, functions)}")
        if ab:
            print_delta(f"{LABELS[s]}, A → B", figures[first, s][0], figures[first, s][2],
                        figures[last, s][0], figures[last, s][2], args.top)
        else:
            print_top(f"{LABELS[s]}, corsproxy", figures[first, s][0], figures[first, s][2], args.top)
            if args.peer == "nginx":
                print_top(f"{LABELS[s]}, nginx", figures["nginx", s][0], figures["nginx", s][2], args.top)

    if args.keep:
        print(f"\ncallgrind dumps: {args.work}/callgrind.*.out.1 and .2 (callgrind_annotate, kcachegrind)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

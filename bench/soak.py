#!/usr/bin/env python3
"""Mixed-load soak driver for corsproxy: small JSON GETs, preflights, 10 MiB downloads, uploads, client
aborts and upstream errors, from several threads, for a fixed duration. Samples the proxy's RSS and open file
descriptors, prints a report and exits non-zero on unexpected errors or on growth after warm-up.

Usage: soak.py --proxy-port P --proxy-pid PID --duration SECONDS [--threads N]"""
import argparse
import collections
import http.client
import os
import random
import socket
import sys
import threading
import time

ORIGIN = "http://localhost:3000"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Soak:
    def __init__(self, port, deadline):
        self.port = port
        self.deadline = deadline
        self.lock = threading.Lock()
        self.served = collections.Counter()
        self.errors = collections.Counter()

    def count(self, kind, ok, detail=""):
        with self.lock:
            if ok:
                self.served[kind] += 1
            else:
                self.errors[f"{kind}: {detail}"] += 1

    def request(self, method, path, headers=None, body=None, read=True):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read() if read else b""
            return response, data
        finally:
            connection.close()

    def small_get(self):
        response, data = self.request("GET", "/rest/v1.0/projects?page=1", {"Origin": ORIGIN, "Authorization": "Bearer soak"})
        ok = response.status == 200 and response.getheader("Access-Control-Allow-Origin") == ORIGIN
        self.count("json GET", ok, f"status {response.status}")

    def preflight(self):
        response, _ = self.request("OPTIONS", "/rest/v1.0/projects", {
            "Origin": ORIGIN, "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, procore-company-id"})
        self.count("preflight", response.status == 204, f"status {response.status}")

    def download(self):
        response, data = self.request("GET", f"/bytes/{10 * 1024 * 1024}", {"Origin": ORIGIN})
        self.count("10 MiB download", response.status == 200 and len(data) == 10 * 1024 * 1024, f"{response.status} {len(data)}")

    def upload(self):
        body = os.urandom(1024 * 1024)
        response, data = self.request("PUT", "/upload", {"Origin": ORIGIN, "Content-Type": "application/octet-stream"}, body)
        self.count("1 MiB upload", response.status == 200 and b'"bodyLength": 1048576' in data, f"{response.status} {data[:80]!r}")

    def abort(self):
        # Read the head of a large download, then drop the connection.
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        sock.sendall(b"GET /bytes/104857600 HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: " + ORIGIN.encode() + b"\r\n\r\n")
        got = sock.recv(65536)
        sock.close()
        self.count("client abort", got.startswith(b"HTTP/1.1 200"), repr(got[:40]))

    def upstream_error(self):
        response, data = self.request("GET", "/down/x", {"Origin": ORIGIN})
        ok = response.status == 502 and response.getheader("Access-Control-Allow-Origin") == ORIGIN
        self.count("upstream 502", ok, f"status {response.status}")

    def worker(self, seed):
        rng = random.Random(seed)
        actions = [self.small_get] * 10 + [self.preflight] * 6 + [self.download, self.upload, self.abort, self.upstream_error]
        while time.time() < self.deadline:
            action = rng.choice(actions)
            try:
                action()
            except Exception as error:  # a failure of the proxy shows up here; count it, keep going
                self.count(action.__name__, False, type(error).__name__)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--proxy-port", type=int, required=True)
    parser.add_argument("--proxy-pid", type=int, required=True)
    parser.add_argument("--duration", type=float, default=600)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--max-rss-growth-mib", type=float, default=16)
    parser.add_argument("--max-fd-growth", type=int, default=8)
    args = parser.parse_args()

    start = time.time()
    soak = Soak(args.proxy_port, start + args.duration)
    threads = [threading.Thread(target=soak.worker, args=(seed,), daemon=True) for seed in range(args.threads)]
    for thread in threads:
        thread.start()
    samples = []
    interval = max(1.0, args.duration / 20)
    while any(thread.is_alive() for thread in threads):
        samples.append((time.time() - start, rss_kib(args.proxy_pid), open_fds(args.proxy_pid)))
        time.sleep(interval)
    for thread in threads:
        thread.join()
    time.sleep(1)  # let the proxy settle: aborted transfers finish their cancellation
    samples.append((time.time() - start, rss_kib(args.proxy_pid), open_fds(args.proxy_pid)))

    warm = samples[min(len(samples) - 1, max(1, len(samples) // 5))]
    middle = samples[len(samples) // 2]
    end = samples[-1]
    print(f"duration: {args.duration:.0f} s, {args.threads} client threads")
    print("requests served:")
    for kind, n in sorted(soak.served.items()):
        print(f"  {kind:18} {n}")
    print(f"  {'total':18} {sum(soak.served.values())}")
    print("errors:" + ("" if soak.errors else " none"))
    for kind, n in sorted(soak.errors.items()):
        print(f"  {kind}: {n}")
    print("            t(s)   RSS(MiB)  open fds")
    for label, (t, rss, fds) in [("start", samples[0]), ("warmed", warm), ("middle", middle), ("end", end)]:
        print(f"  {label:8} {t:6.0f}   {rss / 1024:8.1f}  {fds:8}")
    growth = (end[1] - warm[1]) / 1024
    fd_growth = end[2] - warm[2]
    print(f"after warm-up: RSS {growth:+.1f} MiB, fds {fd_growth:+d}")
    failed = bool(soak.errors) or growth > args.max_rss_growth_mib or fd_growth > args.max_fd_growth
    print("soak: " + ("FAILED" if failed else "ok"))
    sys.exit(1 if failed else 0)


main()

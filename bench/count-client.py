#!/usr/bin/env python3
"""An exact-count HTTP/1.1 load: N GETs of the bench's GET scenario (bench/wrk/get.lua's path and headers) over
keep-alive connections, each response read whole and required to be 200. For instruction counts, where wrk's
"as many as fit in the time" will not do. Exit status 1 on any other status or a connection error.

Usage: bench/count-client.py URL N [CONNECTIONS]   (URL: http://host:port, default 16 connections)
"""
import http.client
import sys
import threading
import urllib.parse

PATH = "/rest/v1.0/projects?company_id=8&page=1&per_page=10"
HEADERS = {
    "Origin": "http://localhost:3000",
    "Authorization": "Bearer bench-7dd5f2c94a1e4b0c8f3a6e21d9b04c55",
    "Procore-Company-Id": "8",
    "Accept": "application/json",
    "Referer": "http://localhost:3000/projects",
}

url = urllib.parse.urlsplit(sys.argv[1])
total = int(sys.argv[2])
connections = int(sys.argv[3]) if len(sys.argv) > 3 else 16
lock = threading.Lock()
left = total
failures = []


def worker():
    global left
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
    while True:
        with lock:
            if left == 0 or failures:
                break
            left -= 1
        try:
            # Only the headers wrk sends (Host and these): no Accept-Encoding.
            conn.putrequest("GET", PATH, skip_accept_encoding=True)
            for name, value in HEADERS.items():
                conn.putheader(name, value)
            conn.endheaders()
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"status {response.status}")
        except Exception as error:  # noqa: BLE001 — any failure ends the run
            with lock:
                failures.append(str(error))
            break
    conn.close()


threads = [threading.Thread(target=worker) for _ in range(min(connections, total))]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
if failures:
    print(f"count-client: {failures[0]}", file=sys.stderr)
    sys.exit(1)
print(f"{total} requests, all 200")

#!/usr/bin/env python3
"""An exact-count HTTP/1.1 load: N requests of the bench's GET scenario (bench/wrk/get.lua's path and headers),
or with --preflight of its preflight (bench/wrk/preflight.lua's), over keep-alive connections, each response read
whole and required to be 200 (204 for a preflight). For instruction counts, where wrk's "as many as fit in the
time" will not do. Exit status 1 on any other status or a connection error.

Usage: bench/count-client.py [--preflight] URL N [CONNECTIONS]   (URL: http://host:port, default 16 connections)
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

PREFLIGHT_PATH = "/rest/v1.0/rfis?project_id=42"
PREFLIGHT_HEADERS = {
    "Origin": "http://localhost:3000",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type,procore-company-id",
    "Referer": "http://localhost:3000/projects",
}

arguments = sys.argv[1:]
preflight = arguments[:1] == ["--preflight"]
if preflight:
    arguments = arguments[1:]
    METHOD, PATH, HEADERS, STATUS = "OPTIONS", PREFLIGHT_PATH, PREFLIGHT_HEADERS, 204
else:
    METHOD, STATUS = "GET", 200
if len(arguments) not in (2, 3):
    sys.exit(__doc__.strip())
url = urllib.parse.urlsplit(arguments[0])
total = int(arguments[1])
connections = int(arguments[2]) if len(arguments) > 2 else 16
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
            conn.putrequest(METHOD, PATH, skip_accept_encoding=True)
            for name, value in HEADERS.items():
                conn.putheader(name, value)
            conn.endheaders()
            response = conn.getresponse()
            response.read()
            if response.status != STATUS:
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
print(f"{total} requests, all {STATUS}")

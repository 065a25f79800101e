#!/usr/bin/env python3
"""A stdlib upstream for scripts: GET /bytes/N streams N bytes; PUT/POST anything consumes the body and
answers its length and SHA-256. Usage: upstream.py PORT"""
import hashlib
import http.server
import json
import sys

CHUNK = bytes(range(256)) * 256  # 64 KiB


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/bytes/"):
            n = int(self.path[len("/bytes/"):])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            while n > 0:
                part = CHUNK[: min(n, len(CHUNK))]
                self.wfile.write(part)
                n -= len(part)
            return
        self.reply({"path": self.path})

    def do_PUT(self):
        digest = hashlib.sha256()
        total = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                data = self.rfile.read(size)
                digest.update(data)
                total += len(data)
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left > 0:
                data = self.rfile.read(min(left, 1 << 20))
                if not data:
                    break
                digest.update(data)
                total += len(data)
                left -= len(data)
        self.reply({"bodyLength": total, "bodySHA256": digest.hexdigest()})

    do_POST = do_PUT

    def reply(self, obj):
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients that abort (the soak does on purpose) reset the connection; that is not news.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()

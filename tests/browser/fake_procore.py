#!/usr/bin/env python3
"""A local stand-in for the Procore developer sandbox, for the browser tests and offline demos.

Two HTTP servers share one state, as Procore's two hosts share one account system:

- the login host (real: https://login-sandbox.procore.com) serves ``GET /oauth/authorize``. With
  ``response_type=token`` (the implicit grant) it redirects straight back to ``redirect_uri`` with
  ``#access_token=…&token_type=bearer&expires_in=86400&state=…`` in the fragment, as the old Procore
  implicit-grant page showed. There is no login form: the user is taken to be signed in already.
  ``GET /oauth/token/info`` describes a token.
- the API host (real: https://sandbox.procore.com) serves ``GET /rest/v1.0/me``,
  ``GET /rest/v1.0/companies``, ``GET /rest/v1.0/projects`` (paginated: ``Total``, ``Per-Page``, absolute
  ``Link`` URLs on its own base URL), ``PATCH`` and ``DELETE /rest/v1.0/projects/{id}``.

Like the real API it answers 401 without a valid bearer token, 400 without ``Procore-Company-Id`` where
Procore requires it, and 429 with ``Retry-After`` once a token's rate limit is spent; every API answer carries
``X-Rate-Limit-Limit``, ``-Remaining``, ``-Reset`` and ``X-Request-Id``.

CORS: like Procore for an origin that API Support has not whitelisted, it sends no ``Access-Control-*``
header at all, to preflights or to anything else, unless the origin is passed in ``cors_origins`` (the
whitelist). Error bodies follow the shapes Procore documents loosely (``{"message": …}``, ``{"errors": …}``);
the exact real bodies are not published.

Stdlib only. Run it alone for a demo: ``python3 tests/browser/fake_procore.py --login-port 8901 --api-port 8902``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

COMPANY = {"id": 8, "name": "Stand-in Construction Co.", "is_active": True}
PROJECT_NAMES = [
    "Harbor Bridge Retrofit",
    "Elm Street Library",
    "North Campus Dormitory",
    "Riverside Water Treatment",
    "Airport Terminal C",
    "Maple Grove School",
    "Downtown Transit Hub",
]
USER = {"id": 4321, "login": "dev@stand-in.example", "name": "Dana Developer"}
TOKEN_LIFETIME = 86400  # what the old implicit-grant page showed: expires_in=86400
DEFAULT_RATE_LIMIT = 3600
RATE_WINDOW = 3600


@dataclass
class Token:
    value: str
    client_id: str
    limit: int
    remaining: int
    reset: int
    created_at: int


@dataclass
class Recorded:
    """One request as it reached the stand-in (after the proxy, if any)."""

    role: str
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeProcore:
    """Shared state of the two hosts. Thread-safe: the servers handle each request on its own thread."""

    client_id: str = "stand-in-client-id"
    projects: list[dict] = field(default_factory=lambda: [
        {"id": 1001 + i, "name": name, "company": {"id": COMPANY["id"]}, "active": True}
        for i, name in enumerate(PROJECT_NAMES)
    ])
    cors_origins: set[str] = field(default_factory=set)  # Procore's whitelist: empty, like for a new app
    api_base: str = ""  # set when the API server is bound; Link URLs are built on it
    login_base: str = ""
    requests: list[Recorded] = field(default_factory=list)
    _tokens: dict[str, Token] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _request_ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def issue_token(self, limit: int = DEFAULT_RATE_LIMIT, client_id: str | None = None) -> str:
        """Mint an access token, as the authorize endpoint does; tests use it to get a token with a tiny limit."""
        value = "stand-in." + secrets.token_urlsafe(24)
        now = int(time.time())
        with self._lock:
            self._tokens[value] = Token(value, client_id or self.client_id, limit, limit, now + RATE_WINDOW, now)
        return value

    def record(self, entry: Recorded) -> None:
        with self._lock:
            self.requests.append(entry)

    def recorded(self, path_prefix: str = "", method: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests
                    if r.target.startswith(path_prefix) and (method is None or r.method == method)]

    def token_for(self, authorization: str | None) -> Token | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        with self._lock:
            token = self._tokens.get(authorization[len("Bearer "):])
        if token is None or int(time.time()) > token.created_at + TOKEN_LIFETIME:
            return None
        return token

    def spend(self, token: Token) -> bool:
        """Count one request against the token's window; False when the limit is spent (429)."""
        with self._lock:
            now = int(time.time())
            if now >= token.reset:
                token.remaining, token.reset = token.limit, now + RATE_WINDOW
            if token.remaining <= 0:
                return False
            token.remaining -= 1
            return True

    def next_request_id(self) -> str:
        with self._lock:
            return f"stand-in-{next(self._request_ids):06d}"


class _Handler(BaseHTTPRequestHandler):
    server_version = "stand-in-procore/1.0"
    protocol_version = "HTTP/1.1"
    fake: FakeProcore  # set per server class
    role: str  # "login" or "api"

    def log_message(self, format: str, *args) -> None:  # quiet: tests read fake.requests instead
        pass

    # ---- plumbing -------------------------------------------------------------------------------

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        body = self._body()
        self.fake.record(Recorded(self.role, self.command, self.path,
                                  {k.lower(): v for k, v in self.headers.items()}, body))
        self.request_body = body
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        self.extra_headers: list[tuple[str, str]] = []
        if self.command == "OPTIONS":
            # A preflight. A whitelisted origin gets what a CORS-enabled Rails API sends; anyone else gets an
            # empty 200 without Access-Control-* headers, which the browser treats as a refusal.
            self._send(200, b"", content_type=None)
            return
        route = (self.role, url.path)
        if self.role == "login" and url.path == "/oauth/authorize" and self.command == "GET":
            self._authorize()
        elif self.role == "login" and url.path == "/oauth/token/info" and self.command == "GET":
            self._token_info()
        elif self.role == "api" and url.path.startswith("/rest/v1.0/"):
            self._api(url.path[len("/rest/v1.0/"):])
        else:
            self._json(404, {"errors": f"No route matches [{self.command}] \"{url.path}\"", "route": list(route)})

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_OPTIONS = do_HEAD = _dispatch

    def _cors_headers(self) -> list[tuple[str, str]]:
        origin = self.headers.get("Origin")
        if origin is None or origin not in self.fake.cors_origins:
            return []  # not whitelisted: no CORS headers at all, like Procore
        headers = [("Access-Control-Allow-Origin", origin), ("Access-Control-Allow-Credentials", "true"),
                   ("Vary", "Origin")]
        if self.command == "OPTIONS":
            headers += [("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE"),
                        ("Access-Control-Allow-Headers",
                         self.headers.get("Access-Control-Request-Headers", "authorization"))]
        else:
            headers.append(("Access-Control-Expose-Headers",
                            "Total, Per-Page, Link, X-Rate-Limit-Limit, X-Rate-Limit-Remaining, "
                            "X-Rate-Limit-Reset, Retry-After, X-Request-Id"))
        return headers

    def _send(self, status: int, body: bytes, content_type: str | None = "application/json; charset=utf-8") -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store, must-revalidate, private, max-age=0")
        for name, value in self.extra_headers + self._cors_headers():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload) -> None:
        self._send(status, json.dumps(payload).encode())

    # ---- login host -----------------------------------------------------------------------------

    def _authorize(self) -> None:
        q = self.query
        redirect_uri = q.get("redirect_uri", "")
        if q.get("client_id") != self.fake.client_id:
            self._json(401, {"error": "invalid_client", "error_description": "Client authentication failed "
                             "due to unknown client, no client authentication included, or unsupported "
                             "authentication method."})
            return
        if not redirect_uri.startswith(("http://", "https://")):
            self._json(400, {"error": "invalid_redirect_uri",
                             "error_description": "The redirect uri included is not valid."})
            return
        if q.get("response_type") != "token":
            fragment = {"error": "unsupported_response_type", "error_description": "The authorization server "
                        "does not support this response type."}
        else:
            fragment = {"access_token": self.fake.issue_token(), "token_type": "bearer",
                        "expires_in": str(TOKEN_LIFETIME)}
        if "state" in q:
            fragment["state"] = q["state"]
        self.extra_headers.append(("Location", redirect_uri.split("#")[0] + "#" + urlencode(fragment)))
        self._send(302, b"", content_type=None)

    def _token_info(self) -> None:
        token = self.fake.token_for(self.headers.get("Authorization"))
        if token is None:
            self._unauthorized()
            return
        self._json(200, {"resource_owner_id": USER["id"], "scope": [], "expires_in":
                         token.created_at + TOKEN_LIFETIME - int(time.time()), "application": {"uid": token.client_id},
                         "created_at": token.created_at})

    def _unauthorized(self) -> None:
        self.extra_headers.append(("WWW-Authenticate", 'Bearer realm="Doorkeeper", error="invalid_token", '
                                   'error_description="The access token is invalid"'))
        self._json(401, {"errors": "401 Unauthorized", "message": "The access token is invalid"})

    # ---- API host -------------------------------------------------------------------------------

    def _api(self, resource: str) -> None:
        self.extra_headers.append(("X-Request-Id", self.fake.next_request_id()))
        token = self.fake.token_for(self.headers.get("Authorization"))
        if token is None:
            self._unauthorized()
            return
        allowed = self.fake.spend(token)
        self.extra_headers += [("X-Rate-Limit-Limit", str(token.limit)),
                               ("X-Rate-Limit-Remaining", str(token.remaining)),
                               ("X-Rate-Limit-Reset", str(token.reset))]
        if not allowed:
            self.extra_headers.append(("Retry-After", str(max(1, token.reset - int(time.time())))))
            self._json(429, {"errors": "Too Many Requests",
                             "message": "Rate limit exceeded; retry after X-Rate-Limit-Reset"})
            return
        if resource == "me" and self.command == "GET":
            self._json(200, USER)
        elif resource == "companies" and self.command == "GET":
            self._json(200, [COMPANY])
        elif resource == "projects" and self.command == "GET":
            if self._company_checked():
                self._list_projects()
        elif resource.startswith("projects/") and resource[len("projects/"):].isdigit():
            if self._company_checked():
                self._project(int(resource[len("projects/"):]))
        else:
            self._json(404, {"errors": "Not Found"})

    def _company_checked(self) -> bool:
        header = self.headers.get("Procore-Company-Id")
        if not header:
            self._json(400, {"errors": "Missing Procore-Company-Id header! All requests to this endpoint "
                             "require the Procore-Company-Id header."})
            return False
        if header != str(COMPANY["id"]) or self.query.get("company_id", header) != header:
            self._json(403, {"errors": "App is not connected to this company"})
            return False
        return True

    def _list_projects(self) -> None:
        try:
            page = max(1, int(self.query.get("page", "1")))
            per_page = min(2000, max(1, int(self.query.get("per_page", "100"))))
        except ValueError:
            self._json(400, {"errors": "page and per_page must be integers"})
            return
        items = self.fake.projects
        last = max(1, -(-len(items) // per_page))
        links = []
        for rel, number in (("first", 1), ("prev", page - 1), ("next", page + 1), ("last", last)):
            if 1 <= number <= last and (rel in ("first", "last") or number != page):
                query = dict(self.query, page=str(number), per_page=str(per_page))
                links.append(f'<{self.fake.api_base}/rest/v1.0/projects?{urlencode(query)}>; rel="{rel}"')
        self.extra_headers += [("Total", str(len(items))), ("Per-Page", str(per_page))]
        if links:
            self.extra_headers.append(("Link", ", ".join(links)))
        self._json(200, items[(page - 1) * per_page: page * per_page])

    def _project(self, project_id: int) -> None:
        project = next((p for p in self.fake.projects if p["id"] == project_id), None)
        if project is None:
            self._json(404, {"errors": "Not Found"})
        elif self.command == "GET":
            self._json(200, project)
        elif self.command == "PATCH":
            if not (self.headers.get("Content-Type") or "").startswith("application/json"):
                self._json(415, {"errors": "Content-Type must be application/json"})
                return
            try:
                changes = json.loads(self.request_body or b"null")["project"]
            except (ValueError, KeyError, TypeError):
                self._json(422, {"errors": 'Body must be JSON {"project": {...}}'})
                return
            self._json(200, dict(project, **changes))
        elif self.command == "DELETE":
            self._send(204, b"", content_type=None)
        else:
            self._json(405, {"errors": "Method Not Allowed"})


def start(fake: FakeProcore, role: str, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """Bind one host of the stand-in and serve it on a daemon thread; the caller shuts it down."""
    handler = type(f"{role.title()}Handler", (_Handler,), {"fake": fake, "role": role})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    base = f"http://{host}:{server.server_address[1]}"
    if role == "api":
        fake.api_base = base
    else:
        fake.login_base = base
    threading.Thread(target=server.serve_forever, name=f"fake-procore-{role}", daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--login-port", type=int, default=8901)
    parser.add_argument("--api-port", type=int, default=8902)
    parser.add_argument("--client-id", default="stand-in-client-id")
    parser.add_argument("--cors-origin", action="append", default=[],
                        help="an origin to whitelist, as Procore API Support would (repeatable)")
    args = parser.parse_args()
    fake = FakeProcore(client_id=args.client_id, cors_origins=set(args.cors_origin))
    servers = [start(fake, "login", args.host, args.login_port), start(fake, "api", args.host, args.api_port)]
    print(f"stand-in login host {fake.login_base}, API host {fake.api_base}, client_id {fake.client_id}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        for server in servers:
            server.shutdown()


if __name__ == "__main__":
    main()

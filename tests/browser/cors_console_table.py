#!/usr/bin/env python3
"""What Firefox and Chromium print on the console for each kind of CORS failure: the research behind
FIREFOX_CONSOLE.md, and the check that keeps it true.

A page on http://localhost:A fetch()es http://127.0.0.1:B/c/<case>, a stdlib server (both loopback) that answers
exactly the headers the case names; every console message of the page from the fetch until the console has
been quiet for a while is recorded, in order, verbatim, with the ports replaced by A and B. The same request goes
through `corsproxy doctor` (when the binary is built) to compare its predicted lines with what the browsers print.

    .venv-browser/bin/python tests/browser/cors_console_table.py           # run, print, compare with the table
    .venv-browser/bin/python tests/browser/cors_console_table.py --write   # rewrite the .json and the .md

test_console_table.py runs the same cases in the suite's browsers and compares with cors_console_table.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

DATA = HERE / "cors_console_table.json"
TABLE = HERE / "FIREFOX_CONSOLE.md"
NOTES = "<!-- notes: written by hand, kept by --write -->"
PAGE_ORIGIN = "http://localhost:A"
SERVER = "http://127.0.0.1:B"

# The preflight answers that let a PUT with Authorization and Procore-Company-Id through.
GOOD_PREFLIGHT = [("Access-Control-Allow-Origin", "{origin}"), ("Access-Control-Allow-Methods", "PUT"),
                  ("Access-Control-Allow-Headers", "Authorization, Procore-Company-Id"), ("Vary", "Origin")]
PUT = {"method": "PUT", "headers": {"Authorization": "Bearer x", "Procore-Company-Id": "8"}}


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    sends: str  # what the server answers, in words, for the table
    actual: tuple[int, list[tuple[str, str]]]  # status and headers of the answer to the request itself
    preflight: tuple[int, list[tuple[str, str]]] | None = None  # of the answer to OPTIONS
    init: dict = field(default_factory=dict)  # fetch()'s init
    read: tuple[str, ...] = ()  # response headers JS reads
    # what to wait for before the console's quiet period: "cors" (a CORS failure message), "any" message, or
    # "quiet" (nothing: a case where some browser prints nothing)
    expect: str = "cors"


CASES = [
    Case("a1", "no Access-Control-Allow-Origin, 200", "GET → 200, no CORS headers", (200, [])),
    Case("a2", "no Access-Control-Allow-Origin, 403", "GET → 403, no CORS headers", (403, [])),
    Case("b", "Access-Control-Allow-Origin of another origin", "GET → 200, `ACAO: http://other.example`",
         (200, [("Access-Control-Allow-Origin", "http://other.example")])),
    Case("c", "two Access-Control-Allow-Origin lines", "GET → 200, `ACAO: <origin>` twice",
         (200, [("Access-Control-Allow-Origin", "{origin}"), ("Access-Control-Allow-Origin", "{origin}")])),
    Case("d", "Access-Control-Allow-Origin * with credentials: 'include'",
         "GET (credentials include) → 200, `ACAO: *`, `ACAC: true`",
         (200, [("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Credentials", "true")]),
         init={"credentials": "include"}),
    Case("e", "credentials: 'include', no Access-Control-Allow-Credentials",
         "GET (credentials include) → 200, `ACAO: <origin>`, no ACAC",
         (200, [("Access-Control-Allow-Origin", "{origin}"), ("Vary", "Origin")]), init={"credentials": "include"}),
    Case("f", "preflight 204 without Access-Control-Allow-Origin",
         "PUT + Authorization; OPTIONS → 204 with ACAM and ACAH, no ACAO",
         (200, GOOD_PREFLIGHT), preflight=(204, GOOD_PREFLIGHT[1:]), init=PUT),
    Case("g", "preflight 403 with correct CORS headers", "PUT + Authorization; OPTIONS → 403 with correct CORS headers",
         (200, GOOD_PREFLIGHT), preflight=(403, GOOD_PREFLIGHT), init=PUT),
    Case("h1", "preflight redirected (307), CORS headers on the 307",
         "PUT + Authorization; OPTIONS → 307 to the same URL, with correct CORS headers",
         (200, GOOD_PREFLIGHT), preflight=(307, GOOD_PREFLIGHT + [("Location", "{url}")]), init=PUT),
    Case("h2", "preflight redirected (307), no CORS headers", "PUT + Authorization; OPTIONS → 307 to the same URL, "
         "no CORS headers", (200, GOOD_PREFLIGHT), preflight=(307, [("Location", "{url}")]), init=PUT),
    Case("i", "Access-Control-Allow-Methods lacks the method", "PUT + Authorization; OPTIONS → 204, `ACAM: GET, POST`",
         (200, GOOD_PREFLIGHT),
         preflight=(204, [GOOD_PREFLIGHT[0], ("Access-Control-Allow-Methods", "GET, POST"), GOOD_PREFLIGHT[2]]),
         init=PUT),
    Case("j", "Access-Control-Allow-Headers lacks a requested header",
         "PUT + Authorization + Procore-Company-Id; OPTIONS → 204, `ACAH: Authorization`", (200, GOOD_PREFLIGHT),
         preflight=(204, GOOD_PREFLIGHT[:2] + [("Access-Control-Allow-Headers", "Authorization")]), init=PUT),
    Case("j2", "Access-Control-Allow-Headers * does not cover Authorization",
         "PUT + Authorization + Procore-Company-Id; OPTIONS → 204, `ACAH: *`", (200, GOOD_PREFLIGHT),
         preflight=(204, GOOD_PREFLIGHT[:2] + [("Access-Control-Allow-Headers", "*")]), init=PUT, expect="quiet"),
    Case("k", "no Access-Control-Expose-Headers", "GET → 200, `ACAO: <origin>`, `Total: 5`, no ACEH",
         (200, [("Access-Control-Allow-Origin", "{origin}"), ("Total", "5")]), read=("Total",),
         expect="quiet"),
    Case("l", "429 without CORS headers", "GET + Authorization (preflight passes) → 429, `Retry-After: 5`, "
         "no CORS headers", (429, [("Retry-After", "5")]), preflight=(204, GOOD_PREFLIGHT),
         init={"headers": {"Authorization": "Bearer x"}}, read=("Retry-After",)),
    Case("l2", "429 without CORS headers, simple request", "GET → 429, `Retry-After: 5`, no CORS headers",
         (429, [("Retry-After", "5")]), read=("Retry-After",)),
    Case("x", "no response (connection refused)", "nothing listens on the port", (0, []), expect="any"),
]
BY_KEY = {case.key: case for case in CASES}


# ---- the server ----------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[str]  # "METHOD key", per server

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path in ("/", "/page"):
            self._send(200, [("Content-Type", "text/html; charset=utf-8")],
                       b'<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
                       b"<title>cors console</title></head><body><p>fetch() runs here.</p></body></html>")
            return
        key = self.path.split("?")[0].removeprefix("/c/")
        case = BY_KEY.get(key)
        if case is None:
            self._send(404, [], b"no such case")
            return
        self.seen.append(f"{self.command} {key}")
        status, headers = case.preflight if self.command == "OPTIONS" and case.preflight else case.actual
        if self.command == "OPTIONS" and not case.preflight:
            status, headers = 405, []
        values = {"origin": self.headers.get("Origin") or "", "url": f"http://{self.headers['Host']}{self.path}"}
        self._send(status, [(name, value.format(**values)) for name, value in headers],
                   b"" if status in (204, 304) else json.dumps({"case": key}).encode())

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response_only(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Cache-Control", "no-store")
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and status not in (204, 304):
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_OPTIONS = do_DELETE = _answer

    def log_message(self, format: str, *args) -> None:
        pass


class Server:
    """One loopback origin: http://HOST:PORT, HOST a name for 127.0.0.1."""

    def __init__(self, host_name: str):
        self.seen: list[str] = []
        handler = type("Handler", (_Handler,), {"seen": self.seen})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.origin = f"http://{host_name}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _refused_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- running the cases ---------------------------------------------------------------------------------


class Lab:
    """The page origin and the answering server; run(driver, console) runs every case in one browser."""

    def __init__(self):
        self.page = Server("localhost")
        self.api = Server("127.0.0.1")
        self.refused = f"http://127.0.0.1:{_refused_port()}"

    def close(self) -> None:
        self.page.close()
        self.api.close()

    def url(self, case: Case) -> str:
        return f"{self.refused if case.key == 'x' else self.api.origin}/c/{case.key}"

    def normalise(self, text: str) -> str:
        return (text.replace(self.page.origin, PAGE_ORIGIN).replace(self.api.origin, SERVER)
                .replace(self.refused, "http://127.0.0.1:R"))

    def run_case(self, driver, console, case: Case, quiet: float = 0.5) -> dict:
        from conftest import browser_fetch

        start = len(self.api.seen)
        mark = console.mark()
        outcome = browser_fetch(driver, self.url(case), case.init, case.read)
        first = {"cors": lambda e: e["cors"], "any": lambda e: True, "quiet": None}[case.expect]
        try:
            entries = console.settle(mark, first=first, quiet=2 * quiet if case.expect == "quiet" else quiet)
        except AssertionError:  # recorded as seen: the table shows the absence
            print(f"{case.key}: no console message as expected in 10 s", file=sys.stderr)
            entries = console.entries[mark:]
        return {
            "console": [self.normalise(_line(e)) for e in entries],
            "js": {k: v for k, v in outcome.items() if k in ("ok", "status", "error", "headers")},
            "reached": [s.split(" ")[0] for s in self.api.seen[start:]],
        }

    def run(self, driver, console) -> dict:
        driver.get(f"{self.page.origin}/page")
        return {case.key: self.run_case(driver, console, case) for case in CASES}

    def predict(self, binary: Path, case: Case) -> dict:
        """`corsproxy doctor --json` for the case's request against the same server, normalised: {"Chrome": the
        line or "", "Firefox": every line, "netError": Chrome's net:: code when no response came}."""
        command = [str(binary), "doctor", self.url(case), "--origin", self.page.origin,
                   "--method", case.init.get("method", "GET"), "--json"]
        for name, value in case.init.get("headers", {}).items():
            command += ["-H", f"{name}: {value}"]
        if case.init.get("credentials") == "include":
            command.append("--credentials")
        start = len(self.api.seen)
        run = subprocess.run(command, capture_output=True, text=True, timeout=30)
        del self.api.seen[start:]
        report = json.loads(run.stdout)
        return {"Chrome": self.normalise(report.get("chrome") or ""),
                "Firefox": [self.normalise(line) for line in report["firefox"]],
                "netError": (report.get("error") or {}).get("netError")}

    def doctor(self, binary: Path) -> dict:
        """corsproxy doctor's prediction for each case: {key: predict(…)}."""
        return {case.key: self.predict(binary, case) for case in CASES}


def prediction_mismatches(predicted: dict, firefox: list[str], chromium: list[str]) -> dict:
    """Where the doctor's prediction differs from what the browsers printed (`[tag] text` lines, as recorded):
    {"Firefox"|"Chrome": (predicted, printed)}; empty when both match. Firefox: every CORS line, in order
    (warnings too). Chrome: its CORS line, or for no response the `Failed to load resource: net::…` line."""
    mismatches = {}
    printed_firefox = [_text(line) for line in firefox if line.startswith("[CORS")]
    if predicted["Firefox"] != printed_firefox:
        mismatches["Firefox"] = (predicted["Firefox"], printed_firefox)
    cors = [_text(line) for line in chromium if "blocked by CORS policy" in line]
    if predicted.get("netError"):
        code = predicted["netError"].removeprefix("net::")
        printed = [line for line in chromium if line.endswith(f"Failed to load resource: net::{code}")]
        if cors or not printed:
            mismatches["Chrome"] = (predicted["netError"], chromium)
    elif (cors[:1] or [""])[0] != predicted["Chrome"] or len(cors) > 1:
        mismatches["Chrome"] = (predicted["Chrome"], cors)
    return mismatches


def _text(line: str) -> str:
    return re.sub(r"^\[[^\]]*\] ", "", line)


def _line(entry: dict) -> str:
    """One console entry as the table shows it: Firefox's with its category (the security.properties key for
    CORS errors), Chrome's with its level."""
    tag = entry.get("category") or entry.get("level") or ""
    return f"[{tag}] {entry['text']}"


# ---- rendering -----------------------------------------------------------------------------------------


def _cell(lines: list[str]) -> str:
    return "<br>".join(f"`{line}`" for line in lines) if lines else "(none)"


def _js(result: dict) -> str:
    js = result["js"]
    if js.get("ok"):
        text = f"status {js['status']}"
        if js.get("headers"):
            text += ", " + ", ".join(f"{name}: `{value}`" if value is not None else f"{name}: `null`"
                                     for name, value in js["headers"].items())
        return text
    return f"`{js.get('error')}`"


def render(data: dict) -> str:
    out = [
        "# CORS failures: what Firefox and Chromium print on the console",
        "",
        "Generated by `tests/browser/cors_console_table.py --write` (data: `cors_console_table.json`; "
        "`test_console_table.py` checks both browsers against it in `make browser-test`).",
        "",
        f"- Firefox **{data['firefox_version']}** (Debian `firefox-esr`, headless, Marionette), "
        f"Chromium **{data['chromium_version']}** (Debian `chromium`, headless, Selenium).",
        f"- The page is on `{PAGE_ORIGIN}`; it calls `fetch('{SERVER}/c/<case>', init)`, a stdlib server on the "
        "other loopback origin that sends exactly the headers named. `R` is a port nothing listens on.",
        "- Firefox lines are every message of the page's web console (read from its content process's "
        "console service), in order, as `[category] text`: for CORS errors the category is the "
        "`security.properties` key. Chrome lines are every `get_log(\"browser\")` entry as `[level] text`, the "
        "text after the entry's `URL - ` prefix.",
        "- Recording starts at the fetch and stops once the console has been quiet for 0.5 s (1 s where a browser "
        "prints nothing).",
        "",
        "| # | failure | server sends | Firefox console, in order | Chrome console, in order |",
        "|---|---|---|---|---|",
    ]
    for case in CASES:
        result = data["cases"][case.key]
        out.append(f"| {case.key} | {case.title} | {case.sends} | {_cell(result['firefox']['console'])} | "
                   f"{_cell(result['chromium']['console'])} |")
    out += [
        "",
        "## What JavaScript gets, what reached the server, what `corsproxy doctor` predicts",
        "",
        "Requests that reached the server (per browser) show whether the browser sent the actual request after the "
        "preflight. The doctor columns are `corsproxy doctor --json`'s `chrome` and `firefox` for the same request "
        "against the same server; ✓ means equal to what the browser printed (Firefox: every CORS line, in order, "
        "warnings too; Chrome: its CORS line, or for no response its `net::` error), ✗ shows the prediction.",
        "",
        "| # | JS in Firefox | JS in Chrome | reached (Firefox / Chrome) | doctor: Firefox | doctor: Chrome |",
        "|---|---|---|---|---|---|",
    ]
    for case in CASES:
        result = data["cases"][case.key]
        doctor = data.get("doctor", {}).get(case.key, {})
        out.append(f"| {case.key} | {_js(result['firefox'])} | {_js(result['chromium'])} | "
                   f"{', '.join(result['firefox']['reached']) or '–'} / "
                   f"{', '.join(result['chromium']['reached']) or '–'} | "
                   f"{_verdict(doctor, result, 'Firefox')} | {_verdict(doctor, result, 'Chrome')} |")
    out.append("")
    return "\n".join(out)


def _verdict(doctor: dict, result: dict, browser: str) -> str:
    if not doctor:
        return "(not run)"  # no corsproxy binary
    mismatch = prediction_mismatches(doctor, result["firefox"]["console"], result["chromium"]["console"])
    if browser in mismatch:
        predicted = doctor[browser]
        shown = "<br>".join(f"`{line}`" for line in predicted) if isinstance(predicted, list) else f"`{predicted}`"
        return f"✗ {shown or '(none)'}"
    return "✓" if doctor[browser] else "✓ (none)"


# ---- the tool ------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite cors_console_table.json and FIREFOX_CONSOLE.md")
    args = parser.parse_args()

    from conftest import ChromeConsole, FirefoxConsole, corsproxy_bin_path, start_chromium
    from firefox import Firefox

    lab = Lab()
    workdir = Path(tempfile.mkdtemp(prefix="cors-console-"))
    data: dict = {"cases": {case.key: {} for case in CASES}}
    try:
        firefox = Firefox.start(workdir)
        try:
            data["firefox_version"] = firefox.version
            for key, result in lab.run(firefox, FirefoxConsole(firefox)).items():
                data["cases"][key]["firefox"] = result
        finally:
            firefox.quit()
        chromium = start_chromium()
        try:
            data["chromium_version"] = chromium.capabilities.get("browserVersion", "")
            for key, result in lab.run(chromium, ChromeConsole(chromium)).items():
                data["cases"][key]["chromium"] = result
        finally:
            chromium.quit()
        binary = corsproxy_bin_path()
        if os.access(binary, os.X_OK):
            data["doctor"] = lab.doctor(binary)
    finally:
        lab.close()
        with contextlib.suppress(OSError):
            import shutil
            shutil.rmtree(workdir)

    table = render(data)
    old = TABLE.read_text() if TABLE.exists() else ""
    generated, marker, notes = old.partition(NOTES)
    if args.write:
        DATA.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        TABLE.write_text(table + marker + notes)
        print(f"wrote {DATA.name} and {TABLE.name}")
        return 0
    print(table)
    if generated != table:
        print(f"\n{TABLE.name} differs from this run: rerun with --write to update it", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

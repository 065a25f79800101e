"""Fixtures for the browser tests: the stand-in Procore, page servers on their own origins, the real corsproxy
binary, and two headless browsers, nothing downloaded: Chromium driven by Selenium (Debian's chromium +
chromium-driver) and Firefox driven by Marionette (Debian's firefox-esr + PyPI's marionette-driver, see
firefox.py). Each test runs once per browser in CORSPROXY_BROWSERS (default "chromium,firefox"): all the Chromium
runs first, then all the Firefox ones.

Origins used (all loopback, so Chrome's Local Network Access rules do not apply):
  http://localhost:A     the SPA; the only origin in the proxy's allowlist
  http://localhost:C     a page on an origin not in the allowlist
  http://127.0.0.1:P     a proxy (one per config); the SPA's API base
  http://evil.test:P     a DNS-rebinding page, see RebindingRelay
  http://127.0.0.1:F     the stand-in's login and API hosts (the upstreams)

Two environment variables break the proxy on purpose, to show a test depends on what it claims:
  CORSPROXY_BROWSER_PATCH  a JSON merge patch (RFC 7396) applied to every generated proxy config,
                           e.g. '{"cors": {"exposedHeaders": []}}'
  CORSPROXY_BROWSER_DROP   response header names that a relay between browser and proxy removes, comma-separated;
                           "name:4xx" removes it from 4xx/5xx responses only,
                           e.g. 'Access-Control-Allow-Origin:4xx'
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

import fake_procore

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SPA_DIR = REPO / "Examples" / "implicit-grant-spa"
PAGES_DIR = HERE / "pages"
ARTIFACTS = REPO / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver")
REBIND_HOST = "evil.test"
REBIND_ADDRESS = "127.0.0.2"  # where evil.test resolves in both browsers; the relay listens there
READY = re.compile(r"^corsproxy listening on (http://\S+)$")
BROWSERS = tuple(filter(None, (b.strip() for b in os.environ.get("CORSPROXY_BROWSERS", "chromium,firefox").split(","))))
# What JS sees when fetch() fails for a CORS reason (or any network error): the same in every case, per browser.
FETCH_ERROR = {"chromium": "TypeError: Failed to fetch",
               "firefox": "TypeError: NetworkError when attempting to fetch resource."}
# Everything here is loopback: a proxy from the environment would only get in the way (Selenium, Chromium).
for _name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
    os.environ.pop(_name, None)


def corsproxy_bin_path() -> Path:
    path = Path(os.environ.get("CORSPROXY_BIN", ".build/debug/corsproxy"))
    return path if path.is_absolute() else REPO / path


def corsproxy_bin() -> Path:
    path = corsproxy_bin_path()
    if not os.access(path, os.X_OK):
        pytest.exit(f"{path} is not built: run `make build` (or set CORSPROXY_BIN)", returncode=2)
    return path


# ---- page servers --------------------------------------------------------------------------------------


class _PageHandler(SimpleHTTPRequestHandler):
    """Serves the SPA folder at / and the test pages at /__test__/; nothing is cached."""

    def translate_path(self, path: str) -> str:
        path = unquote(urlsplit(path).path)
        root, rest = (PAGES_DIR, path[len("/__test__/"):]) if path.startswith("/__test__/") else (SPA_DIR, path)
        resolved = (root / rest.lstrip("/")).resolve()
        return str(resolved if resolved.is_relative_to(root) else root / "missing")

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:
        pass


class PageServer:
    """One origin serving the pages: http://HOST:PORT with HOST a name Chromium resolves to 127.0.0.1."""

    def __init__(self, host_name: str = "localhost"):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
        self.server.daemon_threads = True
        self.origin = f"http://{host_name}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---- raw TCP helpers -----------------------------------------------------------------------------------


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """Read until the end of an HTTP head; returns (head, bytes already read past it)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > 1 << 20:
            raise ValueError("head too large")
    if b"\r\n\r\n" not in data:
        raise ConnectionAbortedError("closed before a whole head")  # e.g. Chrome's unused preconnect
    head, _, rest = data.partition(b"\r\n\r\n")
    return head + b"\r\n\r\n", rest


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while chunk := src.recv(65536):
            dst.sendall(chunk)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


class _Listener:
    def __init__(self, host: str, port: int):
        self.sock = socket.create_server((host, port))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.sock.accept()
                threading.Thread(target=self._serve_safely, args=(client,), daemon=True).start()

    def _serve_safely(self, client: socket.socket) -> None:
        with client, contextlib.suppress(OSError, ValueError):
            self.serve(client)

    def serve(self, client: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class HeaderDropRelay(_Listener):
    """Mutation aid: sits between the browser and the proxy and deletes response headers, one exchange per
    connection (it asks both sides for Connection: close). Bytes are otherwise passed unchanged."""

    def __init__(self, target_port: int, rules: list[tuple[str, bool]]):
        self.target_port = target_port
        self.rules = rules  # (lowercase header name, errors only)
        super().__init__("127.0.0.1", 0)

    def serve(self, client: socket.socket) -> None:
        head, rest = _read_head(client)
        lines = [line for line in head.split(b"\r\n")[:-2] if not line.lower().startswith(b"connection:")]
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        with upstream:
            upstream.sendall(b"\r\n".join(lines + [b"Connection: close", b"", b""]) + rest)
            threading.Thread(target=_pipe, args=(client, upstream), daemon=True).start()
            head, rest = _read_head(upstream)
            lines = head.split(b"\r\n")[:-2]
            is_error = int(lines[0].split()[1]) >= 400
            kept = [lines[0]]
            for line in lines[1:]:
                name = line.split(b":", 1)[0].strip().lower().decode()
                if name == "connection" or any(name == drop and (is_error or not errors_only)
                                               for drop, errors_only in self.rules):
                    continue
                kept.append(line)
            client.sendall(b"\r\n".join(kept + [b"Connection: close", b"", b""]) + rest)
            _pipe(upstream, client)


class RebindingRelay(_Listener):
    """Plays a DNS-rebinding attacker. Chromium resolves evil.test to 127.0.0.2 (--host-resolver-rules), where
    this relay listens on the proxy's own port P, so http://evil.test:P is one origin to the browser. Requests
    for /__attacker__/… get the attacker's page; every other connection is spliced byte for byte to the proxy
    on 127.0.0.1:P — what the browser reaches once the attacker's DNS answers 127.0.0.1 for evil.test. To the
    page, the proxy is then same-origin: only the proxy's Host check stands in the way."""

    def __init__(self, proxy_port: int):
        self.proxy_port = proxy_port
        super().__init__(REBIND_ADDRESS, proxy_port)
        self.origin = f"http://{REBIND_HOST}:{self.port}"

    def serve(self, client: socket.socket) -> None:
        head, rest = _read_head(client)
        target = head.split(b" ", 2)[1].decode()
        if target.startswith("/__attacker__/"):
            page = (PAGES_DIR / Path(urlsplit(target).path).name).read_bytes()
            client.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n"
                           b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(page), page))
            return
        upstream = socket.create_connection(("127.0.0.1", self.proxy_port))
        with upstream:
            upstream.sendall(head + rest)
            threading.Thread(target=_pipe, args=(client, upstream), daemon=True).start()
            _pipe(upstream, client)


# ---- the proxy -----------------------------------------------------------------------------------------


def merge_patch(target, patch):
    """RFC 7396 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def procore_config(fake: fake_procore.FakeProcore, allowed_origins: list[str], **cors) -> dict:
    """The shipped proxy.json, pointed at the stand-in and allowing `allowed_origins`."""
    config = json.loads((REPO / "proxy.json").read_text())
    config.pop("$schema", None)
    config.pop("listen", None)
    config["routes"] = [{"prefix": "/oauth/", "upstream": fake.login_base},
                        {"prefix": "/", "upstream": fake.api_base}]
    config["cors"].update(allowedOrigins=allowed_origins, **cors)
    patch = os.environ.get("CORSPROXY_BROWSER_PATCH")
    return merge_patch(config, json.loads(patch)) if patch else config


def _drop_rules() -> list[tuple[str, bool]]:
    rules = []
    for item in filter(None, (s.strip() for s in os.environ.get("CORSPROXY_BROWSER_DROP", "").split(","))):
        name, _, scope = item.partition(":")
        rules.append((name.strip().lower(), scope.strip() == "4xx"))
    return rules


class Proxy:
    """The real corsproxy binary with a generated config, on 127.0.0.1 and a free port."""

    def __init__(self, config: dict, workdir: Path, name: str, listen: str = "127.0.0.1:0"):
        self.config = config
        self.config_path = workdir / f"{name}.json"
        self.config_path.write_text(json.dumps(config, indent=2))
        self.log_path = workdir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [str(corsproxy_bin()), "serve", "--config", str(self.config_path), "--listen", listen,
             "--log-format", "json"],
            stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL)
        self.direct_url = self._await_ready()
        self.port = int(self.direct_url.rsplit(":", 1)[1])
        rules = _drop_rules()
        self.relay = HeaderDropRelay(self.port, rules) if rules else None
        self.url = f"http://127.0.0.1:{self.relay.port}" if self.relay else self.direct_url

    def _await_ready(self) -> str:
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        line = b""
        while not line.endswith(b"\n"):
            if not selector.select(timeout=20):
                self.stop()
                raise RuntimeError(f"corsproxy printed no ready line in 20 s; log: {self.log()}")
            chunk = os.read(self.process.stdout.fileno(), 1)
            if not chunk:
                self.stop()
                raise RuntimeError(f"corsproxy exited with {self.process.wait()}: {self.log()}")
            line += chunk
        selector.close()
        match = READY.match(line.decode().strip())
        assert match, f"unexpected ready line {line!r}"
        return match.group(1)

    def log(self) -> str:
        """The log as written so far. The access log reaches the file up to 10 ms after its exchange (the writer
        lets lines gather), so this first waits until the file has not grown for 50 ms (2 s at most)."""
        self._log.flush()
        deadline = time.monotonic() + 2
        size = -1
        while size != self.log_path.stat().st_size and time.monotonic() < deadline:
            size = self.log_path.stat().st_size
            time.sleep(0.05)
        return self.log_path.read_text(errors="replace")

    def log_mark(self) -> int:
        """A point in the log: log_lines(since=mark) sees only the lines after it."""
        return len(self.log().splitlines())

    def log_lines(self, *needles: str, since: int = 0) -> list[str]:
        """The log's lines after `since` holding every needle; an access log line (JSON) rendered as
        `request key=value… ` (keys sorted, each after a space, a space at the end)."""
        lines = [_rendered(line) for line in self.log().splitlines()[since:]]
        return [line for line in lines if all(n in line for n in needles)]

    def stop(self) -> None:
        if self.relay:
            self.relay.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()
        self._log.close()


def _rendered(line: str) -> str:
    if not line.startswith("{"):
        return line
    entry = json.loads(line)
    return "request" + "".join(f" {key}={entry[key]}" for key in sorted(entry)) + " "


# ---- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def workdir():
    path = Path(tempfile.mkdtemp(prefix="corsproxy-browser-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def fake():
    state = fake_procore.FakeProcore()
    servers = [fake_procore.start(state, "login"), fake_procore.start(state, "api")]
    yield state
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def spa():
    """The allowed origin, serving the SPA."""
    server = PageServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def stranger():
    """An origin that is not in the allowlist, serving the same pages."""
    server = PageServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def proxy_factory(workdir, fake, spa):
    started: dict[str, Proxy] = {}

    def make(name: str, **cors) -> Proxy:
        if name not in started:
            started[name] = Proxy(procore_config(fake, [spa.origin], **cors), workdir, name)
        return started[name]

    yield make
    for proxy in started.values():
        proxy.stop()


@pytest.fixture(scope="session")
def proxy(proxy_factory):
    """The shipped proxy.json (disallowedOrigin "reject"), pointed at the stand-in, allowing the SPA's origin."""
    return proxy_factory("default")


@pytest.fixture(scope="session")
def omit_proxy(proxy_factory):
    return proxy_factory("omit-headers", disallowedOrigin="omit-headers")


@pytest.fixture(scope="session")
def rebinding(workdir, fake, spa):
    """A proxy on 127.0.0.1:P with the default allowedHosts, and the rebinding attacker on 127.0.0.2:P."""
    for attempt in range(5):
        proxy = Proxy(procore_config(fake, [spa.origin]), workdir, f"rebinding-{attempt}")
        try:
            relay = RebindingRelay(proxy.port)
        except OSError:  # port P is taken on 127.0.0.2: try another P
            proxy.stop()
            continue
        yield proxy, relay
        relay.close()
        proxy.stop()
        return
    pytest.fail("no port free on both 127.0.0.1 and 127.0.0.2")


@pytest.fixture(scope="session", params=BROWSERS)
def browser_name(request) -> str:
    """"chromium" or "firefox": session-scoped, so pytest runs every test in one browser before the other."""
    if request.param not in FETCH_ERROR:
        pytest.fail(f"CORSPROXY_BROWSERS: unknown browser {request.param!r} (chromium, firefox)")
    return request.param


def start_chromium() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--no-proxy-server",
                     "--window-size=1100,900", f"--host-resolver-rules=MAP {REBIND_HOST} {REBIND_ADDRESS}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.set_script_timeout(20)
    browser.set_page_load_timeout(20)
    return browser


@pytest.fixture(scope="session")
def driver():
    """The session's Chromium (Selenium WebDriver)."""
    browser = start_chromium()
    yield browser
    browser.quit()


@pytest.fixture(scope="session")
def firefox(workdir):
    """The session's Firefox (firefox.Firefox: Marionette, with Selenium's method names)."""
    try:
        import marionette_driver  # noqa: F401
    except ImportError:
        pytest.fail("marionette_driver is not importable: run the suite with `make browser-test` (it installs it "
                    "in .venv-browser), or set CORSPROXY_BROWSERS=chromium", pytrace=False)
    from firefox import Firefox
    # Every name but localhost resolves to 127.0.0.2, Firefox's way to play --host-resolver-rules (evil.test).
    browser = Firefox.start(workdir, extra_prefs={"network.dns.forceResolve": REBIND_ADDRESS})
    yield browser
    browser.quit()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


FAILURES = ARTIFACTS / "browser-failures"


def pytest_sessionstart(session):
    shutil.rmtree(FAILURES, ignore_errors=True)  # only this run's failures


@pytest.fixture
def browser(request, browser_name):
    """The session's Chromium or Firefox, on about:blank with its console drained; on failure saves a screenshot
    and the console."""
    if browser_name == "firefox":
        driver = request.getfixturevalue("firefox")
        driver.get("about:blank")
        console = FirefoxConsole(driver)
    else:
        driver = request.getfixturevalue("driver")
        driver.get("about:blank")
        console = ChromeConsole(driver)
    console.drain()
    console.seen.clear()
    console.entries.clear()
    request.node.console = console
    yield driver
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        FAILURES.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(FAILURES / f"{request.node.name}.png"))
        seen = request.node.console.drain()
        (FAILURES / f"{request.node.name}.console.txt").write_text("".join(m + "\n" for m in seen))


# ---- helpers the tests share ---------------------------------------------------------------------------

FETCH_JS = """
const [url, init, names, done] = arguments;
fetch(url, init).then(
  async (response) => {
    const headers = {};
    for (const name of names) headers[name] = response.headers.get(name);
    done({ok: true, status: response.status, body: await response.text(), headers, type: response.type});
  },
  (error) => done({ok: false, error: String(error)}));
"""


def browser_fetch(driver, url: str, init: dict | None = None, read: tuple[str, ...] = ()) -> dict:
    """fetch() in the current page, so with its origin; returns status, body and the headers JS could read."""
    return driver.execute_async_script(FETCH_JS, url, init or {}, list(read))


class Console:
    """The browser's console for the current test. Reading drains the browser's log, so keep what was seen:
    `seen` holds the texts, `entries` the same as dicts with at least text and cors (a CORS failure or not)."""

    def __init__(self, driver):
        self.driver = driver
        self.seen: list[str] = []
        self.entries: list[dict] = []

    def _read(self) -> list[dict]:
        raise NotImplementedError

    def drain(self) -> list[str]:
        """Everything the console printed in this test so far."""
        for entry in self._read():
            self.entries.append(entry)
            self.seen.append(entry["text"])
        return self.seen

    def wait_for(self, pattern: str, timeout: float = 10) -> str:
        regex = re.compile(pattern)
        return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(
            lambda _: next((m for m in self.drain() if regex.search(m)), None),
            f"no console message matching {pattern!r}; seen: {self.seen}")

    def mark(self) -> int:
        """A point in this test's console: cors_since(mark) sees only what came after it."""
        self.drain()
        return len(self.entries)

    def settle(self, mark: int, first=None, quiet: float = 0.3, timeout: float = 10) -> list[dict]:
        """The entries since `mark` once the console has been quiet for `quiet` seconds, after a first entry for
        which `first(entry)` holds (if given; AssertionError after `timeout` without one)."""
        deadline = time.monotonic() + timeout
        count, changed = -1, time.monotonic()
        while True:
            self.drain()
            entries = self.entries[mark:]
            now = time.monotonic()
            if len(self.entries) != count:
                count, changed = len(self.entries), now
            started = first is None or any(first(e) for e in entries)
            if started and now - changed >= quiet:
                return entries
            if now > deadline:
                if started:
                    return entries
                raise AssertionError(f"no console message as expected in {timeout} s; seen: {self.seen[mark:]}")
            time.sleep(0.05)

    def cors_since(self, mark: int, quiet: float = 0.3, timeout: float = 10) -> list[str]:
        """The CORS failure messages printed since `mark`, in order: waits for the first, then until the console
        has been quiet for `quiet` seconds (Firefox prints a second line for some failures, a little later)."""
        return [e["text"] for e in self.settle(mark, lambda e: e["cors"], quiet, timeout) if e["cors"]]


class ChromeConsole(Console):
    """Chrome's console through Selenium's get_log("browser")."""

    def _read(self) -> list[dict]:
        entries = []
        for entry in self.driver.get_log("browser"):
            # "URL [line:col] "text"" for console.* calls; "URL - text" for network errors such as CORS.
            message = entry["message"]
            text = message.split(" - ", 1)[1] if " - " in message else message
            entries.append({"text": text, "level": entry["level"], "cors": "has been blocked by CORS policy" in text})
        return entries


class FirefoxConsole(Console):
    """Firefox's web console (each page's errors, warnings and console.* calls), see firefox.py. CORS failures
    are the messages whose category, the security.properties key, starts with "CORS"."""

    def _read(self) -> list[dict]:
        return [dict(entry, cors=entry["category"].startswith("CORS")) for entry in self.driver.console_drain()]


@pytest.fixture
def console(request, browser):
    return request.node.console

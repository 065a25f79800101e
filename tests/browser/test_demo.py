"""`corsproxy demo` in headless Chromium: the printed `open:` URL, the sign-in, every page of projects through the
proxy, against the Swift stand-in the binary runs itself (not fake_procore.py). Chromium only: the demo is the
same whatever the browser, and the other suites cover Firefox."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import ARTIFACTS, corsproxy_bin
from fake_procore import COMPANY, PROJECT_NAMES, USER
from test_browser import run_spa

OPEN = re.compile(r"^open:      (http://localhost:\d+/)$", re.M)
INSPECTOR = re.compile(r"^inspector: (http://127\.0\.0\.1:\d+/inspector)$", re.M)


@pytest.fixture
def demo(tmp_path):
    """`corsproxy demo --port 0` (free ports); yields its stdout once the inspector: line is out."""
    log = (tmp_path / "demo.log").open("wb")
    process = subprocess.Popen([str(corsproxy_bin()), "demo", "--port", "0"], stdout=subprocess.PIPE, stderr=log,
                               stdin=subprocess.DEVNULL)
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    out = b""
    deadline = time.monotonic() + 20
    while not INSPECTOR.search(out.decode()):
        chunk = os.read(process.stdout.fileno(), 4096) if selector.select(deadline - time.monotonic()) else b""
        if not chunk:  # the deadline passed, or the demo exited
            process.kill()
            pytest.fail(f"corsproxy demo printed no inspector: line; stdout: {out!r}; log: {log.name}")
        out += chunk
    selector.close()
    yield out.decode(), process, tmp_path / "demo.log"
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
    process.stdout.close()
    log.close()


def test_demo_open_url_signs_in_and_loads_every_page(driver, demo):
    """The user story of the README's "Try it in one minute": open the printed URL, click "Sign in with Procore",
    see the account and all 7 projects, read 3 per page through the proxy's rewritten Link URLs."""
    stdout, process, log = demo
    open_url = OPEN.search(stdout).group(1)
    driver.get("about:blank")
    driver.get_log("browser")  # drained: only this test's console below
    result = run_spa(driver, open_url)
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "demo-spa.png"))

    assert result["state"] == "done", f"{result['status']}\nlog: {log.read_text()}"
    assert result["status"] == f"Loaded {len(PROJECT_NAMES)} projects in 3 page(s)."
    assert (result["login"], result["company"]) == (USER["login"], COMPANY["name"])
    assert result["projects"] == PROJECT_NAMES
    assert (result["total"], result["pages"]) == (str(len(PROJECT_NAMES)), "3")
    assert result["rate_remaining"].isdigit()
    assert result["url"] == open_url, "the token left the address bar"
    # Every call went to the proxy, another origin than the page; pages 2 and 3 through the rewritten Link URLs.
    fetched = [line.split(" ")[1] for line in result["requests"]]
    proxies = {re.match(r"http://127\.0\.0\.1:\d+/", url).group(0) for url in fetched}
    assert len(proxies) == 1 and not open_url.startswith(proxies.pop()), fetched
    pages = [parse_qs(urlsplit(url).query).get("page", ["1"])[0] for url in fetched if "/projects" in url]
    assert pages == ["1", "2", "3"], fetched
    assert [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"] == []
    # The access log on stderr has the exchanges: the authorize navigation and the preflighted API calls.
    text = log.read_text()
    assert "/oauth/authorize" in text and "/rest/v1.0/projects" in text, text

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=5) == 0

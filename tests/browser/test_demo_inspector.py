"""Issue 16's acceptance, end to end in headless Chromium: `corsproxy demo`, its inspector opened first, then the
SPA signed in with every page of projects loaded; the inspector shows each of the SPA's exchanges live (the page
never reloaded), then a blocked one from a page on an origin the demo does not allow, whose detail shows the
message Chrome itself printed; the SPA's token is nowhere in the inspector: not in its DOM, not in any exchange's
detail JSON, not in the event stream. Chromium only, like test_demo.py."""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.request
from urllib.parse import urlsplit

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import ARTIFACTS, ChromeConsole, browser_fetch
from fake_procore import PROJECT_NAMES
from test_browser import run_spa
from test_demo import INSPECTOR, OPEN, demo  # noqa: F401  (demo: the fixture)

# Runs in the SPA's tab before app.js, which removes the token from the address bar: keeps it for the test.
KEEP_TOKEN = """
const token = new URLSearchParams(location.hash.slice(1)).get("access_token");
if (token) sessionStorage.setItem("e2e-token", token);
"""


def rows_by_id(driver) -> dict[str, dict]:
    """The inspector's list: each row's method, path, origin, CORS badge and status, by request id."""
    return driver.execute_script("""
        const out = {};
        for (const tr of document.querySelectorAll("#rows tr")) {
          const cells = tr.querySelectorAll("td");
          out[tr.dataset.id] = {method: cells[1].textContent, path: cells[2].textContent,
                                origin: cells[3].textContent, cors: cells[4].textContent,
                                status: cells[5].textContent};
        }
        return out;""")


def read_stream(url: str, seconds: float = 2.0) -> bytes:
    """What `…/inspector/events` sends in its first `seconds` (it starts with the ring's recent exchanges)."""
    data = b""
    deadline = time.monotonic() + seconds
    with urllib.request.urlopen(url, timeout=seconds) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        while time.monotonic() < deadline:
            try:
                chunk = response.read1(65536)
            except (TimeoutError, socket.timeout):
                break
            if not chunk:
                break
            data += chunk
    return data


def test_demo_inspector_shows_the_spa_live_a_blocked_exchange_and_no_token(driver, demo, stranger):  # noqa: F811
    stdout, process, log = demo
    open_url = OPEN.search(stdout).group(1)
    inspector_url = INSPECTOR.search(stdout).group(1)
    console = ChromeConsole(driver)

    # 1. The inspector first, connected, with nothing in it yet; a marker that a reload would wipe.
    driver.get(inspector_url)
    inspector = driver.current_window_handle
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "connection").text == "Live")
    assert rows_by_id(driver) == {} and driver.find_element(By.ID, "empty").is_displayed()
    driver.execute_script("window.e2eNotReloaded = true")

    # 2. The SPA in another window: sign in, every page of projects through the proxy.
    driver.switch_to.new_window("window")
    spa_window = driver.current_window_handle
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": KEEP_TOKEN})
    result = run_spa(driver, open_url)
    assert result["state"] == "done", f"{result['status']}\nlog: {log.read_text()}"
    assert result["projects"] == PROJECT_NAMES and result["pages"] == "3"
    token = driver.execute_script('return sessionStorage.getItem("e2e-token")')
    assert token and len(token) > 20, token
    fetched = [line.split(" ")[:2] for line in result["requests"]]  # [method, URL]
    proxy_origin = "{0.scheme}://{0.netloc}".format(urlsplit(fetched[0][1]))
    spa_origin = open_url.rstrip("/")

    # 3. Back in the inspector, not reloaded: a row for each call the SPA made, allowed, from the SPA's origin.
    driver.switch_to.window(inspector)
    expected = [(method, urlsplit(url).path + (f"?{urlsplit(url).query}" if urlsplit(url).query else ""))
                for method, url in fetched]
    assert [path for _, path in expected][:2] == ["/rest/v1.0/me", "/rest/v1.0/companies"], expected
    assert sum("/rest/v1.0/projects" in path for _, path in expected) == 3, expected

    def listed(d):
        actual = {(r["method"], r["path"], r["origin"], r["cors"]) for r in rows_by_id(d).values()}
        return all((m, p, spa_origin, "allowed") in actual for m, p in expected) and actual

    WebDriverWait(driver, 10, poll_frequency=0.1).until(
        listed, f"not every SPA call in the inspector: {expected}; rows: {list(rows_by_id(driver).values())}")
    assert driver.execute_script("return window.e2eNotReloaded === true"), "the inspector page was reloaded"
    assert not driver.find_element(By.ID, "empty").is_displayed()

    # 4. A blocked exchange: a page on another origin (not in the demo's allowlist) calls the proxy.
    driver.switch_to.window(spa_window)
    driver.get(stranger.origin + "/__test__/blank.html")
    console.drain()
    mark = console.mark()
    blocked = browser_fetch(driver, proxy_origin + "/rest/v1.0/me?from=stranger")
    assert not blocked["ok"], blocked
    chrome_said = console.cors_since(mark)
    assert len(chrome_said) == 1, chrome_said
    driver.close()
    driver.switch_to.window(inspector)

    row = WebDriverWait(driver, 10).until(lambda d: next(
        (tr for tr in d.find_elements(By.CSS_SELECTOR, "#rows tr")
         if tr.find_element(By.CSS_SELECTOR, ".badge").text == "blocked"
         and "from=stranger" in tr.find_element(By.CSS_SELECTOR, ".path").text), None))
    assert row.find_element(By.CSS_SELECTOR, "td.origin").text == stranger.origin
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "demo-inspector-list.png"))

    row.click()
    shown = WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#detail .message.chrome"))
    detail = json.loads(urllib.request.urlopen(f"{inspector_url}/exchanges/{row.get_attribute('data-id')}").read())
    assert detail["exchange"]["cors"] == "blocked" and detail["exchange"]["origin"] == stranger.origin
    message = detail["block"]["chrome"]
    assert "has been blocked by CORS policy" in message
    assert message in shown[0].text, shown[0].text
    assert message == chrome_said[0], f"inspector: {message}\nChrome:    {chrome_said[0]}"
    driver.save_screenshot(str(ARTIFACTS / "demo-inspector-detail.png"))

    # 5. No token anywhere: the page's DOM (the detail open), each listed exchange's detail, the event stream.
    ids = list(rows_by_id(driver))
    assert len(ids) >= len(expected) + 1
    html = driver.execute_script("return document.documentElement.outerHTML")
    assert token not in html
    details = {i: urllib.request.urlopen(f"{inspector_url}/exchanges/{i}").read().decode() for i in ids}
    leaks = [i for i, body in details.items() if token in body]
    assert not leaks, f"the token in the detail of {leaks}"
    # The redaction is there, as the token's last four characters (so the check above is not vacuous).
    parsed = [json.loads(body) for body in details.values()]
    me = next(d for d in parsed if (d["exchange"]["method"], d["exchange"]["path"]) == ("GET", "/rest/v1.0/me"))
    authorization = {name.lower(): value for name, value in me["requestHeaders"]}["authorization"]
    assert authorization == "Bearer …" + token[-4:], authorization
    stream = read_stream(f"{inspector_url}/events")
    assert b"/rest/v1.0/projects" in stream and b"from=stranger" in stream, stream[:500]
    assert token.encode() not in stream
    assert token[:12].encode() not in stream and token[:12] not in html  # not even its start

    assert process.poll() is None, log.read_text()

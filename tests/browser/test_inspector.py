"""The inspector page in headless Chromium: a proxy with an admin listener, started here; requests from the SPA's
origin (allowed) and a stranger's (blocked) appear live; the blocked row's detail shows Chrome's message; the
keyboard works; no token reaches the DOM; the page's CSP holds; its text colours meet WCAG AA."""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.request

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from conftest import ARTIFACTS, Proxy, browser_fetch, procore_config

TOKEN = "secret-token-1234abcd"
TEXT_PAIRS = [  # (text, background) custom properties the stylesheet uses together
    ("--text", "--bg"), ("--text", "--surface"), ("--text-muted", "--bg"), ("--text-muted", "--surface"),
    ("--accent-text", "--surface"), ("--text", "--row-selected"), ("--text-muted", "--row-selected"),
    ("--ok-text", "--ok-bg"), ("--bad-text", "--bad-bg"), ("--warn-text", "--warn-bg"),
    ("--neutral-text", "--neutral-bg"), ("--bad-text", "--surface"), ("--ok-text", "--surface"),
    ("--bad-text", "--row-selected"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def inspected(workdir, fake, spa):
    config = procore_config(fake, [spa.origin])
    admin = free_port()
    config["admin"] = {"listen": f"127.0.0.1:{admin}"}
    proxy = Proxy(config, workdir, "inspector")
    # The admin listener binds just after the ready line.
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", admin), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    yield proxy, f"http://127.0.0.1:{admin}/inspector"
    proxy.stop()


def luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def themes(css: str) -> dict[str, dict[str, str]]:
    """The custom properties of the light :root block and of the dark one (inside prefers-color-scheme)."""
    dark_start = css.index("@media (prefers-color-scheme: dark)")
    blocks = {"light": css[:dark_start], "dark": css[dark_start:css.index("}", css.index("{", dark_start + 40)) + 1]}
    return {name: dict(re.findall(r"(--[a-z-]+):\s*(#[0-9a-fA-F]{6})\s*;", block)) for name, block in blocks.items()}


def test_inspector_contrast_meets_wcag_aa(inspected):
    _, url = inspected
    css = urllib.request.urlopen(url + "/app.css").read().decode()
    ratios = {}
    for theme, colours in themes(css).items():
        for text, background in TEXT_PAIRS:
            ratio = contrast(colours[text], colours[background])
            ratios[f"{theme} {text} on {background}"] = round(ratio, 2)
            assert ratio >= 4.5, f"{theme}: {text} {colours[text]} on {background} {colours[background]}: {ratio:.2f}"
        # The focus ring is not text: WCAG 1.4.11 asks 3:1 against what surrounds it.
        assert contrast(colours["--focus"], colours["--surface"]) >= 3
    (ARTIFACTS / "inspector-contrast.json").parent.mkdir(exist_ok=True)
    (ARTIFACTS / "inspector-contrast.json").write_text(json.dumps(ratios, indent=2))


def test_inspector_live_list_detail_keyboard(driver, inspected, spa, stranger):
    proxy, url = inspected
    driver.get(url)
    inspector = driver.current_window_handle
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "connection").text == "Live")
    driver.get_log("browser")  # start clean

    driver.switch_to.new_window("tab")
    driver.get(spa.origin + "/__test__/blank.html")
    api = proxy.url + "/rest/v1.0/me"
    allowed = browser_fetch(driver, api + "?access_token=" + TOKEN, {"headers": {"Authorization": "Bearer " + TOKEN}})
    assert allowed["ok"], allowed
    driver.get(stranger.origin + "/__test__/blank.html")
    blocked = browser_fetch(driver, api)
    assert not blocked["ok"]
    driver.close()
    driver.switch_to.window(inspector)

    rows = WebDriverWait(driver, 10).until(
        lambda d: (r := d.find_elements(By.CSS_SELECTOR, "#rows tr")) and len(r) >= 2 and r)
    verdicts = [row.find_element(By.CSS_SELECTOR, ".badge").text for row in rows]
    assert "blocked" in verdicts and "allowed" in verdicts, verdicts
    driver.save_screenshot(str(ARTIFACTS / "inspector-list.png"))

    # Tab from the page's start reaches the list (past the three filters), arrows move, Enter opens.
    body = driver.find_element(By.TAG_NAME, "body")
    body.click()
    for _ in range(8):
        driver.switch_to.active_element.send_keys(Keys.TAB)
        if driver.switch_to.active_element.tag_name == "tr":
            break
    first = driver.switch_to.active_element
    assert first.tag_name == "tr"
    assert first.get_attribute("data-id") == rows[0].get_attribute("data-id")
    first.send_keys(Keys.ARROW_DOWN)
    assert driver.switch_to.active_element.get_attribute("data-id") == rows[1].get_attribute("data-id")
    driver.switch_to.active_element.send_keys(Keys.ARROW_UP)
    blocked_row = next(r for r in rows if r.find_element(By.CSS_SELECTOR, ".badge").text == "blocked")
    while driver.switch_to.active_element.get_attribute("data-id") != blocked_row.get_attribute("data-id"):
        driver.switch_to.active_element.send_keys(Keys.ARROW_DOWN)
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    chrome = WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#detail .message.chrome"))
    assert "has been blocked by CORS policy" in chrome[0].text
    assert stranger.origin in chrome[0].text
    assert driver.find_elements(By.CSS_SELECTOR, "#detail pre.command")
    driver.save_screenshot(str(ARTIFACTS / "inspector-detail.png"))

    driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    WebDriverWait(driver, 5).until(lambda d: not d.find_element(By.ID, "detail").is_displayed())
    assert driver.switch_to.active_element.get_attribute("data-id") == blocked_row.get_attribute("data-id")

    # The allowed row's detail: the token only as its last four characters.
    allowed_row = next(r for r in rows if r.find_element(By.CSS_SELECTOR, ".badge").text == "allowed")
    allowed_row.click()
    WebDriverWait(driver, 10).until(lambda d: "Bearer …abcd" in d.find_element(By.ID, "detail").text)
    html = driver.execute_script("return document.documentElement.outerHTML")
    assert TOKEN not in html
    assert "$TOKEN" in html

    # The log is the browser's, all tabs: the SPA tab's failed fetches are expected; nothing of the inspector's.
    admin_origin = url.rsplit("/", 1)[0]
    problems = [e["message"] for e in driver.get_log("browser")
                if "Content Security Policy" in e["message"] or "Refused to" in e["message"]
                or (e["level"] == "SEVERE" and e["message"].startswith(admin_origin))]
    assert not problems, problems

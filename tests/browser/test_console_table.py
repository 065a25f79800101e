"""FIREFOX_CONSOLE.md stays true: each CORS failure of cors_console_table.py, in each browser, prints exactly the
console lines recorded in cors_console_table.json, JS sees the same outcome, and the same requests reach the
server. After a browser update changes a line: `.venv-browser/bin/python tests/browser/cors_console_table.py
--write`, then read the diff (and fix BrowserModel's predicted messages if they are now wrong)."""

from __future__ import annotations

import json

import pytest

import cors_console_table as table
from conftest import corsproxy_bin

RECORDED = json.loads(table.DATA.read_text())


@pytest.fixture(scope="module")
def lab():
    lab = table.Lab()
    yield lab
    lab.close()


@pytest.mark.parametrize("key", [case.key for case in table.CASES])
def test_7_console_messages_match_the_table(browser, browser_name, console, lab, key):
    """One failure kind: what the browser printed, what JS saw and what reached the server, against the table;
    and `corsproxy doctor --json` for the same request predicts exactly what the browser printed: Firefox's
    every CORS line in order (warnings too), Chrome's CORS line (or its net:: error when nothing answers)."""
    browser.get(f"{lab.page.origin}/page")
    seen = lab.run_case(browser, console, table.BY_KEY[key], quiet=0.3)
    recorded = RECORDED["cases"][key][browser_name]
    version = RECORDED[f"{browser_name}_version"]
    assert seen["console"] == recorded["console"], f"{browser_name} prints other lines than {version} did"
    assert seen["js"] == recorded["js"]
    assert seen["reached"] == recorded["reached"]
    predicted = lab.predict(corsproxy_bin(), table.BY_KEY[key])
    name, printed = ("Firefox", (seen["console"], [])) if browser_name == "firefox" else ("Chrome", ([], seen["console"]))
    mismatch = table.prediction_mismatches(predicted, *printed).get(name)
    assert mismatch is None, f"doctor predicts {mismatch[0]!r}, {browser_name} printed {mismatch[1]!r}"


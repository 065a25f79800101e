"""FIREFOX_CONSOLE.md stays true: each CORS failure of cors_console_table.py, in each browser, prints exactly the
console lines recorded in cors_console_table.json, JS sees the same outcome, and the same requests reach the
server. After a browser update changes a line: `.venv-browser/bin/python tests/browser/cors_console_table.py
--write`, then read the diff (and fix BrowserModel's predicted messages if they are now wrong)."""

from __future__ import annotations

import json

import pytest

import cors_console_table as table

RECORDED = json.loads(table.DATA.read_text())


@pytest.fixture(scope="module")
def lab():
    lab = table.Lab()
    yield lab
    lab.close()


@pytest.mark.parametrize("key", [case.key for case in table.CASES])
def test_7_console_messages_match_the_table(browser, browser_name, console, lab, key):
    """One failure kind: what the browser printed, what JS saw and what reached the server, against the table."""
    browser.get(f"{lab.page.origin}/page")
    seen = lab.run_case(browser, console, table.BY_KEY[key], quiet=0.3)
    recorded = RECORDED["cases"][key][browser_name]
    version = RECORDED[f"{browser_name}_version"]
    assert seen["console"] == recorded["console"], f"{browser_name} prints other lines than {version} did"
    assert seen["js"] == recorded["js"]
    assert seen["reached"] == recorded["reached"]

"""Every fault kind of SPEC.md's "Reproducing CORS errors", injected by the real proxy into a real browser's
fetch() (each test runs in Chromium and in Firefox): what JavaScript sees, the console lines equal to
`corsproxy doctor --json`'s prediction for the same request, the proxy's log line naming the fault and the
fault ledger's entry with that line's request id, and what reached the stand-in upstream.

The faults are asked for per request (`?corsproxy-fault=KIND`, the proxy runs with `faults.requestControl`);
test_8_route_rule shows a `routes[].faults` rule limited to one origin doing the same.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field

import pytest

from conftest import FETCH_ERROR, Proxy, browser_fetch, corsproxy_bin, procore_config
from fake_procore import COMPANY

COMPANY_ID = str(COMPANY["id"])
LIST = f"/rest/v1.0/projects?company_id={COMPANY_ID}&per_page=2"


@dataclass(frozen=True)
class Kind:
    """One fault kind and the request that meets it: `blocked` when JS gets the fetch error, else the status JS
    reads; `stage` where the fault applies; `upstream` whether the request reaches the stand-in."""

    fault: str
    method: str = "GET"
    credentials: bool = False
    blocked: bool = True
    status: int | None = None
    upstream: bool = True
    read: tuple[str, ...] = ()
    injected: bool = True  # whether the proxy injects it at all for this browser request


KINDS = [
    Kind("no-allow-origin"),
    Kind("wrong-allow-origin"),
    Kind("multiple-allow-origin"),
    Kind("wildcard-with-credentials", credentials=True),
    Kind("no-allow-credentials", credentials=True),
    Kind("no-expose-headers", blocked=False, status=200, read=("Total", "Link")),
    Kind("error-without-cors", upstream=False),
    Kind("preflight-no-allow-origin", method="PATCH", upstream=False),
    Kind("preflight-status", method="PATCH", upstream=False),
    Kind("preflight-status:500", method="PATCH", upstream=False),
    Kind("preflight-redirect", method="PATCH", upstream=False),
    Kind("method-not-allowed", method="PATCH", upstream=False),
    Kind("header-not-allowed", method="PATCH", upstream=False),
    # Neither browser asks for private network access any more (Chromium 156 has Local Network Access instead, a
    # permission with no preflight header; Firefox never did), so the fault has nothing to remove: the request
    # passes and nothing is injected. Swift's FaultInjectionTests cover it with the header sent by hand.
    Kind("private-network-missing", method="PATCH", blocked=False, status=200, injected=False),
    Kind("latency:400", blocked=False, status=200, read=("Total",)),
    Kind("status", blocked=False, status=503, upstream=False, read=("Retry-After", "X-Corsproxy-Fault")),
    Kind("status:502", blocked=False, status=502, upstream=False, read=("Retry-After", "X-Corsproxy-Fault")),
]


@pytest.fixture(scope="module")
def fault_proxy(workdir, fake, spa):
    config = procore_config(fake, [spa.origin])
    config["faults"] = {"requestControl": True}
    proxy = Proxy(config, workdir, "faults")
    yield proxy
    proxy.stop()


def ledger(proxy: Proxy) -> list[dict]:
    with urllib.request.urlopen(f"{proxy.direct_url}/__corsproxy/faults", timeout=5) as response:
        return json.loads(response.read())["faults"]


def doctor(proxy: Proxy, url: str, origin: str, kind: Kind, headers: dict) -> dict:
    command = [str(corsproxy_bin()), "doctor", url, "--origin", origin, "--method", kind.method, "--json"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if kind.credentials:
        command.append("--credentials")
    return json.loads(subprocess.run(command, capture_output=True, text=True, timeout=30).stdout)


def request_headers(token: str, kind: Kind) -> dict:
    """Authorization and Procore-Company-Id: so every request is preflighted (the preflight kinds need one; the
    others show that only their own stage changes)."""
    headers = {"Authorization": f"Bearer {token}", "Procore-Company-Id": COMPANY_ID, "Accept": "application/json"}
    if kind.method == "PATCH":
        headers["Content-Type"] = "application/json"
    return headers


@pytest.mark.parametrize("kind", KINDS, ids=[k.fault for k in KINDS])
def test_8_fault_kind(browser, browser_name, console, spa, fault_proxy, fake, kind):
    proxy = fault_proxy
    name = kind.fault.split(":")[0]
    browser.get(f"{spa.origin}/__test__/blank.html")
    token = fake.issue_token()
    path = "/rest/v1.0/projects/1002?" if kind.method == "PATCH" else LIST + "&"
    url = f"{proxy.url}{path}corsproxy-fault={kind.fault}"
    headers = request_headers(token, kind)
    init = {"method": kind.method, "headers": headers}
    if kind.method == "PATCH":
        init["body"] = json.dumps({"project": {"name": "never sent"}})
    if kind.credentials:
        init["credentials"] = "include"

    log_mark, seen_before = proxy.log_mark(), len(fake.requests)
    recorded_before = {entry["requestId"] for entry in ledger(proxy)}
    mark = console.mark()
    started = time.monotonic()
    outcome = browser_fetch(browser, url, init, read=kind.read)
    elapsed = time.monotonic() - started

    # What JavaScript sees.
    if kind.blocked:
        assert outcome == {"ok": False, "error": FETCH_ERROR[browser_name]}, outcome
    else:
        assert outcome["ok"] and outcome["status"] == kind.status, outcome
    if name == "no-expose-headers":
        assert outcome["headers"] == {"Total": None, "Link": None}, "the exposed headers are still readable"
    if name == "latency":
        assert elapsed >= 0.4, f"answered in {elapsed:.3f} s"
        assert outcome["headers"]["Total"] is not None  # the correct answer, late
    if name == "status":
        assert outcome["headers"] == {"Retry-After": "5", "X-Corsproxy-Fault": name}, outcome

    # The console: exactly what the doctor predicts for the same request.
    entries = console.settle(mark, (lambda e: e["cors"]) if kind.blocked else None, quiet=0.5)
    if browser_name == "firefox":
        printed = [e["text"] for e in entries if e.get("category", "").startswith("CORS")]
    else:
        printed = [e["text"] for e in entries if e["cors"]]

    # The proxy's log line for each faulted exchange names the fault; the ledger has one entry per line, same id.
    faulted = proxy.log_lines(f" fault={name}", since=log_mark)  # the key, not the URL's corsproxy-fault=
    new = [entry for entry in ledger(proxy) if entry["requestId"] not in recorded_before]
    if kind.injected:
        assert faulted, f"no log line with fault={name}:\n" + "\n".join(proxy.log_lines(since=log_mark))
        ids = {line.split(" requestId=")[1].split()[0] for line in faulted}
        assert {e["requestId"] for e in new} == ids, (new, faulted)
        assert all(e["kind"] == name and e["origin"] == spa.origin and e["path"] == path.split("?")[0]
                   for e in new), new
    else:
        assert not faulted and not new, (faulted, new)

    # What reached the upstream: never the preflight; the request itself only where the row says.
    reached = [r.method for r in fake.requests[seen_before:]]
    assert "OPTIONS" not in reached
    assert (kind.method in reached) == kind.upstream, reached

    prediction = doctor(proxy, url, spa.origin, kind, headers)
    if browser_name == "firefox":
        assert printed == prediction["firefox"], f"Firefox printed {printed}, doctor predicts {prediction['firefox']}"
    else:
        assert printed[:1] == ([prediction["chrome"]] if prediction["chrome"] else []), \
            f"Chrome printed {printed}, doctor predicts {prediction['chrome']!r}"
        assert len(printed) <= 1
    assert prediction["verdict"] == ("blocked" if kind.blocked else "allowed"), prediction


@pytest.fixture(scope="module")
def rule_proxy(workdir, fake, spa, stranger):
    """Both page origins allowed; a route rule breaks GETs from the second one only. Request control is off."""
    config = procore_config(fake, [spa.origin, stranger.origin])
    config["routes"][1]["faults"] = [{"fault": "wrong-allow-origin", "methods": ["GET"], "origins": [stranger.origin]}]
    proxy = Proxy(config, workdir, "fault-rule")
    yield proxy
    proxy.stop()


def test_8_route_rule_breaks_one_origin_only(browser, browser_name, console, spa, stranger, rule_proxy, fake):
    """A `routes[].faults` rule with an `origins` filter: the page on that origin fails as the doctor predicts,
    the other page is served; with request control off `corsproxy-fault=` is the upstream's business."""
    proxy = rule_proxy
    token = fake.issue_token()
    url = f"{proxy.url}{LIST}&corsproxy-fault=status"
    headers = {"Authorization": f"Bearer {token}", "Procore-Company-Id": COMPANY_ID}
    seen_before = len(fake.requests)

    browser.get(f"{spa.origin}/__test__/blank.html")
    served = browser_fetch(browser, url, {"headers": headers}, read=("Total",))
    assert served["ok"] and served["status"] == 200 and served["headers"]["Total"] is not None, served
    # Request control is off: the parameter reached the upstream as sent, and injected nothing.
    assert [r.target for r in fake.requests[seen_before:] if r.method == "GET"] == [url.removeprefix(proxy.url)]

    browser.get(f"{stranger.origin}/__test__/blank.html")
    log_mark = proxy.log_mark()
    recorded_before = {entry["requestId"] for entry in ledger(proxy)}
    mark = console.mark()
    broken = browser_fetch(browser, url, {"headers": headers})
    assert broken == {"ok": False, "error": FETCH_ERROR[browser_name]}, broken
    entries = console.settle(mark, lambda e: e["cors"], quiet=0.5)
    [line] = proxy.log_lines(" fault=wrong-allow-origin", since=log_mark)
    request_id = line.split(" requestId=")[1].split()[0]
    assert [(e["requestId"], e["origin"]) for e in ledger(proxy) if e["requestId"] not in recorded_before] == \
        [(request_id, stranger.origin)]

    prediction = doctor(proxy, url, stranger.origin, Kind("wrong-allow-origin"), headers)
    if browser_name == "firefox":
        assert [e["text"] for e in entries if e.get("category", "").startswith("CORS")] == prediction["firefox"]
    else:
        assert [e["text"] for e in entries if e["cors"]] == [prediction["chrome"]]
    assert "http://wrong-origin.invalid" in prediction["chrome"]

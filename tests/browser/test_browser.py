"""The Procore implicit-grant user story, proven through the real proxy in headless Chromium and in headless Firefox
(each test runs in both: the `browser` fixture is parametrized, see conftest.py).

Each test names the header (or check) of the proxy it depends on; the README's browser-test section shows how
to break it with CORSPROXY_BROWSER_PATCH / CORSPROXY_BROWSER_DROP and watch the test fail.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlencode, urlsplit

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from conftest import ARTIFACTS, FETCH_ERROR, browser_fetch
from fake_procore import COMPANY, PROJECT_NAMES, USER

COMPANY_ID = str(COMPANY["id"])
NAVIGATING = (NoSuchElementException, StaleElementReferenceException)  # the page may change under a wait


def spa_url(spa, proxy, fake, **extra) -> str:
    """The SPA, pointed at the proxy for both the API and /oauth/authorize (the proxy's /oauth/ route)."""
    query = {"api": proxy.url, "login": proxy.url, "client_id": fake.client_id, "per_page": "3", **extra}
    return f"{spa.origin}/?{urlencode(query)}"


def run_spa(browser, url: str) -> dict:
    """Open the SPA signed out, click "Sign in", and wait until it has finished (or failed)."""
    browser.get(url)
    wait = WebDriverWait(browser, 20, poll_frequency=0.05, ignored_exceptions=NAVIGATING)
    wait.until(EC.element_to_be_clickable((By.ID, "login-link"))).click()
    status = wait.until(lambda d: (s := d.find_element(By.ID, "status")).get_attribute("data-state")
                        in ("done", "error") and s)
    text = lambda element_id: browser.find_element(By.ID, element_id).text  # noqa: E731
    return {
        "state": status.get_attribute("data-state"),
        "status": status.text,
        "login": text("me-login"),
        "company": text("company-name"),
        "total": text("total"),
        "pages": text("pages"),
        "rate_remaining": text("rate-remaining"),
        "projects": [row.find_elements(By.TAG_NAME, "td")[1].text
                     for row in browser.find_elements(By.CSS_SELECTOR, "#projects tr")],
        "requests": [item.get_attribute("textContent") for item in browser.find_elements(By.CSS_SELECTOR, "#requests li")],
        "url": browser.current_url,
    }


def auth_headers(token: str) -> dict:
    return {"Authorization": f"Bearer {token}", "Procore-Company-Id": COMPANY_ID, "Accept": "application/json"}


# ---- 1 -------------------------------------------------------------------------------------------------


def test_1_full_flow_from_allowed_origin(browser, console, spa, proxy, fake):
    """Login redirect through the proxy, token from the fragment, /me, every page of projects through the
    rewritten Link URLs. Depends on Access-Control-Allow-Origin, on Link in Access-Control-Expose-Headers, and
    on the proxy rewriting Link to itself (the SPA refuses to send its token anywhere else)."""
    seen_before = len(fake.requests)
    result = run_spa(browser, spa_url(spa, proxy, fake))
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "spa-final.png"))

    assert result["state"] == "done", f"{result['status']}\nconsole: {console.drain()}"
    assert result["status"] == f"Loaded {len(PROJECT_NAMES)} projects in 3 page(s)."
    assert (result["login"], result["company"]) == (USER["login"], COMPANY["name"])
    assert result["projects"] == PROJECT_NAMES
    assert (result["total"], result["pages"]) == (str(len(PROJECT_NAMES)), "3")
    assert result["rate_remaining"].isdigit()
    # The token left the address bar (and history) once read.
    assert "access_token" not in result["url"] and "#" not in result["url"]

    # Every call went to the proxy; pages 2 and 3 are the Link URLs, rewritten from the stand-in's own base.
    fetched = [line.split(" ")[1] for line in result["requests"]]
    assert all(url.startswith(proxy.url + "/") for url in fetched), fetched
    pages = [parse_qs(urlsplit(url).query).get("page", ["1"])[0] for url in fetched if "/projects" in url]
    assert pages == ["1", "2", "3"], fetched

    # What reached the stand-in: the authorize navigation via the /oauth/ route, then bearer calls.
    reached = fake.requests[seen_before:]
    authorize = [r for r in reached if r.target.startswith("/oauth/authorize")]
    assert len(authorize) == 1 and authorize[0].role == "login"
    assert parse_qs(urlsplit(authorize[0].target).query)["response_type"] == ["token"]
    api_calls = [r for r in reached if r.role == "api"]
    assert [urlsplit(r.target).path for r in api_calls] == (
        ["/rest/v1.0/me", "/rest/v1.0/companies"] + ["/rest/v1.0/projects"] * 3)
    token = api_calls[0].headers["authorization"]
    assert token.startswith("Bearer stand-in.")
    assert all(r.headers["authorization"] == token for r in api_calls)
    assert all(r.headers["procore-company-id"] == COMPANY_ID for r in api_calls[2:])
    assert all(r.method != "OPTIONS" for r in reached), "preflights must be answered by the proxy"
    assert console.drain() == []


# ---- 2 -------------------------------------------------------------------------------------------------


def test_2_preflighted_requests_and_exposed_headers(browser, spa, proxy, fake):
    """Authorization, Procore-Company-Id and a JSON body force preflights, for GET, PATCH and DELETE alike; JS
    reads Total, Link and X-Rate-Limit-Remaining. Depends on Access-Control-Allow-Headers, -Allow-Methods and
    -Expose-Headers."""
    browser.get(f"{spa.origin}/__test__/blank.html")
    token = fake.issue_token()
    log_mark, seen_before = proxy.log_mark(), len(fake.requests)
    listing = browser_fetch(
        browser, f"{proxy.url}/rest/v1.0/projects?company_id={COMPANY_ID}&per_page=2&page=2",
        {"headers": auth_headers(token)}, read=("Total", "Per-Page", "Link", "X-Rate-Limit-Remaining"))
    assert listing["ok"], listing
    assert listing["status"] == 200
    headers = listing["headers"]
    assert (headers["Total"], headers["Per-Page"]) == (str(len(PROJECT_NAMES)), "2")
    assert headers["X-Rate-Limit-Remaining"] is not None and headers["X-Rate-Limit-Remaining"].isdigit(), headers
    assert headers["Link"] is not None, headers
    assert f'<{proxy.url}/rest/v1.0/projects?company_id={COMPANY_ID}&per_page=2&page=3>; rel="next"' in headers["Link"]
    assert fake.api_base not in headers["Link"]
    assert [p["name"] for p in json.loads(listing["body"])] == PROJECT_NAMES[2:4]

    patch = browser_fetch(
        browser, f"{proxy.url}/rest/v1.0/projects/1002?company_id={COMPANY_ID}",
        {"method": "PATCH", "headers": {**auth_headers(token), "Content-Type": "application/json"},
         "body": json.dumps({"project": {"name": "Elm Street Library (renamed)"}})},
        read=("X-Rate-Limit-Remaining",))
    assert patch["ok"], patch
    assert patch["status"] == 200
    assert json.loads(patch["body"])["name"] == "Elm Street Library (renamed)"
    assert patch["headers"]["X-Rate-Limit-Remaining"] is not None

    delete = browser_fetch(browser, f"{proxy.url}/rest/v1.0/projects/1003?company_id={COMPANY_ID}",
                           {"method": "DELETE", "headers": auth_headers(token)})
    assert delete["ok"], delete
    assert delete["status"] == 204

    sent = fake.recorded("/rest/v1.0/projects/1002", "PATCH")[-1]
    assert json.loads(sent.body) == {"project": {"name": "Elm Street Library (renamed)"}}
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["authorization"] == f"Bearer {token}"
    assert sent.headers["procore-company-id"] == COMPANY_ID
    assert [r.method for r in fake.requests[seen_before:] if r.target.startswith("/rest/v1.0/projects/1003")] == \
        ["DELETE"]
    # The browser really preflighted each one; the proxy answered and never forwarded the OPTIONS.
    for method, path in (("GET", "/rest/v1.0/projects?"), ("PATCH", "/rest/v1.0/projects/1002"),
                         ("DELETE", "/rest/v1.0/projects/1003")):
        preflights = proxy.log_lines(" method=OPTIONS", f" requestMethod={method}",
                                     f" target={path}", " status=204", since=log_mark)
        assert preflights, f"no successful {method} preflight for {path} in the proxy log:\n{proxy.log()}"
        assert "authorization" in preflights[-1] and "procore-company-id" in preflights[-1]
    assert fake.recorded("/rest/v1.0/projects", "OPTIONS") == []


# ---- 3 -------------------------------------------------------------------------------------------------


def test_3_upstream_401_and_429_are_readable(browser, spa, proxy, fake):
    """Errors from the upstream reach JS with status and body, not "Failed to fetch". Depends on the proxy
    putting Access-Control-Allow-Origin (and the exposed headers) on error responses too."""
    browser.get(f"{spa.origin}/__test__/blank.html")

    invalid = browser_fetch(browser, f"{proxy.url}/rest/v1.0/me",
                            {"headers": {"Authorization": "Bearer expired-or-made-up", "Accept": "application/json"}})
    assert invalid["ok"], invalid
    assert invalid["status"] == 401
    assert json.loads(invalid["body"])["message"] == "The access token is invalid"

    no_token = browser_fetch(browser, f"{proxy.url}/rest/v1.0/me")  # a simple request: no preflight
    assert no_token["ok"], no_token
    assert (no_token["status"], json.loads(no_token["body"])["errors"]) == (401, "401 Unauthorized")

    spent = fake.issue_token(limit=0)
    limited = browser_fetch(browser, f"{proxy.url}/rest/v1.0/projects?company_id={COMPANY_ID}",
                            {"headers": auth_headers(spent)},
                            read=("Retry-After", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"))
    assert limited["ok"], limited
    assert limited["status"] == 429
    assert json.loads(limited["body"])["errors"] == "Too Many Requests"
    assert limited["headers"]["Retry-After"] is not None and int(limited["headers"]["Retry-After"]) > 0
    assert limited["headers"]["X-Rate-Limit-Remaining"] == "0"


# ---- 4 -------------------------------------------------------------------------------------------------


def test_4_credentials_include_like_the_js_sdk(browser, console, spa, proxy, fake):
    """fetch(…, {credentials: 'include'}) with the headers @procore/js-sdk sends. Depends on
    Access-Control-Allow-Credentials: true on the preflight and the response, and on an echoed (not *) origin."""
    result = run_spa(browser, spa_url(spa, proxy, fake, credentials="include"))
    assert result["state"] == "done", f"{result['status']}\nconsole: {console.drain()}"
    assert result["projects"] == PROJECT_NAMES

    # The SDK's own request shape: JSON Content-Type even on GET, its version headers, mode cors, include.
    token = fake.issue_token()
    sdk_headers = {**auth_headers(token), "Content-Type": "application/json",
                   "Procore-Sdk-Version": "4.3.0", "Procore-Sdk-Language": "javascript"}
    info = browser_fetch(browser, f"{proxy.url}/oauth/token/info",
                         {"headers": sdk_headers, "mode": "cors", "credentials": "include"})
    assert info["ok"], info
    assert info["status"] == 200 and json.loads(info["body"])["resource_owner_id"] == USER["id"]
    sent = fake.recorded("/oauth/token/info")[-1]
    assert (sent.role, sent.headers["procore-sdk-language"]) == ("login", "javascript")


# ---- 5 -------------------------------------------------------------------------------------------------


def _prediction(proxy, field: str, method: str, target: str, origin: str, since: int = 0) -> str | None:
    """The console message the proxy's log line predicts for a request (its chrome= or firefox= field)."""
    lines = proxy.log_lines(f" method={method}", f" target={target} ", f" origin={origin} ", since=since)
    for line in reversed(lines):
        if match := re.search(rf" {field}=(.*?) [a-z][\w.]*=", line):  # up to the next key (sorted keys)
            return match.group(1)
    return None


def test_5_disallowed_origin_is_blocked_like_procore_blocks_it(browser, browser_name, console, stranger, proxy,
                                                                omit_proxy, fake):
    """From an origin not in the allowlist the browser blocks the call. With disallowedOrigin "omit-headers" the
    console error is the very one Procore (the stand-in, which sends no CORS headers) produces. Depends on the
    proxy not sending Access-Control-Allow-Origin to that origin."""
    browser.get(f"{stranger.origin}/__test__/blank.html")
    token = fake.issue_token()
    seen_before = len(fake.requests)
    log_marks = {"reject": proxy.log_mark(), "omit-headers": omit_proxy.log_mark()}
    calls = {"preflighted": ("/rest/v1.0/me", {"headers": auth_headers(token)}),  # as the SPA's calls are
             "simple": ("/rest/v1.0/companies?probe=simple", {})}  # no preflight
    bases = {"reject": proxy.url, "omit-headers": omit_proxy.url, "procore": fake.api_base}
    messages, normalised = {}, {}
    for name, base in bases.items():
        for kind, (path, init) in calls.items():
            mark = console.mark()
            outcome = browser_fetch(browser, base + path, init)
            assert not outcome["ok"], f"{name} {kind}: JS could read the response: {outcome}"
            assert outcome["error"] == FETCH_ERROR[browser_name]
            lines = console.cors_since(mark)
            messages[f"{name} {kind}"] = lines
            normalised[f"{name} {kind}"] = [line.replace(base, "<API>") for line in lines]
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"cors-console-messages-{browser_name}.json").write_text(json.dumps(messages, indent=2) + "\n")

    if browser_name == "chromium":
        # The same error as Procore's, word for word (only the URL differs).
        for kind in calls:
            assert normalised[f"omit-headers {kind}"] == normalised[f"procore {kind}"], messages
        no_acao = "No 'Access-Control-Allow-Origin' header is present on the requested resource."
        assert normalised["procore preflighted"] == [
            f"Access to fetch at '<API>/rest/v1.0/me' from origin '{stranger.origin}' has been blocked by CORS "
            f"policy: Response to preflight request doesn't pass access control check: {no_acao}"]
        assert normalised["procore simple"] == [
            f"Access to fetch at '<API>/rest/v1.0/companies?probe=simple' from origin '{stranger.origin}' has been "
            f"blocked by CORS policy: {no_acao}"]
        # The default "reject" mode is blocked too, and Chrome reports it the same way (403 without CORS headers).
        for kind in calls:
            assert normalised[f"reject {kind}"] == normalised[f"procore {kind}"], messages
    else:
        # Firefox names the status code, so only omit-headers (which forwards the simple request) matches Procore
        # word for word there; the preflight gets 200 from Procore, 204 from the proxy, 403 with "reject".
        blocked = "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at "
        no_acao = "(Reason: CORS header ‘Access-Control-Allow-Origin’ missing). Status code: {}."
        failed = f"{blocked}<API>/rest/v1.0/me. (Reason: CORS request did not succeed). Status code: (null)."
        # A refused preflight: the reason, then "did not succeed" for the request that was never sent.
        assert normalised["procore preflighted"] == [f"{blocked}<API>/rest/v1.0/me. {no_acao.format(200)}", failed]
        assert normalised["omit-headers preflighted"] == [f"{blocked}<API>/rest/v1.0/me. {no_acao.format(204)}",
                                                          failed]
        assert normalised["reject preflighted"] == [f"{blocked}<API>/rest/v1.0/me. {no_acao.format(403)}", failed]
        simple = f"{blocked}<API>/rest/v1.0/companies?probe=simple. {no_acao.format(401)}"
        assert normalised["procore simple"] == normalised["omit-headers simple"] == [simple], messages
        assert normalised["reject simple"] == [simple.replace("401", "403")], messages
    # The proxy's log predicted each message exactly (Firefox's first line: the reason).
    field = "chrome" if browser_name == "chromium" else "firefox"
    for name, instance in (("reject", proxy), ("omit-headers", omit_proxy)):
        since = log_marks[name]
        assert _prediction(instance, field, "OPTIONS", "/rest/v1.0/me", stranger.origin, since) == \
            messages[f"{name} preflighted"][0]
        assert _prediction(instance, field, "GET", calls["simple"][0], stranger.origin, since) == \
            messages[f"{name} simple"][0]
    # Where the requests went: reject forwards nothing; omit-headers forwards the simple request (the upstream
    # answers, the browser hides the answer), exactly what happens with Procore itself.
    reached = [r for r in fake.requests[seen_before:] if r.target.startswith(calls["simple"][0])]
    forwarded_by = [r.headers.get("x-forwarded-host") for r in reached]
    assert sorted(forwarded_by, key=str) == sorted([None, urlsplit(omit_proxy.url).netloc], key=str), forwarded_by
    # The preflighted call was never sent on, by either mode: the browser stopped at the preflight.
    assert all(r.headers.get("authorization") != f"Bearer {token}" for r in fake.recorded("/rest/v1.0/me"))


# ---- 6 -------------------------------------------------------------------------------------------------


def test_6_dns_rebinding_page_cannot_use_the_proxy(browser, rebinding, fake):
    """A page on a third origin, http://evil.test:P, whose name is rebound to 127.0.0.1: its fetches are
    same-origin, so no CORS check protects the proxy. Depends on the proxy's allowedHosts check (403
    host_not_allowed); nothing may reach the upstream."""
    proxy, attacker = rebinding
    browser.get(f"{attacker.origin}/__attacker__/attack.html")
    result = WebDriverWait(browser, 20, poll_frequency=0.05, ignored_exceptions=NAVIGATING).until(
        lambda d: (e := d.find_element(By.ID, "result")).get_attribute("data-state") == "done" and e)
    outcomes = json.loads(result.text)
    assert [o["path"] for o in outcomes] == ["/rest/v1.0/me", "/rest/v1.0/companies", "/oauth/token/info"]
    for outcome in outcomes:
        assert outcome.get("status") == 403, outcomes
        assert json.loads(outcome["body"])["error"] == "host_not_allowed", outcomes
    assert [r for r in fake.requests if "evil.test" in r.headers.get("x-forwarded-host", "")] == []
    # It did reach the proxy itself (the relay works), with the rebound name in Host.
    assert len(proxy.log_lines(" status=403", "/rest/v1.0/me")) >= 1, proxy.log()


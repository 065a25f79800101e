"""limits.rateLimit as a page sees it: a page on an allowed origin fetches through a proxy with a tight limit
until the proxy answers 429, and JavaScript reads the status and `Retry-After` (exposed by the proxy, although
the config's exposedHeaders does not list it), while the upstream never sees the refused request."""

from __future__ import annotations

from conftest import Proxy, procore_config
from fake_procore import COMPANY

LIST = f"/rest/v1.0/projects?company_id={COMPANY['id']}&per_page=2"

# Fetches until a 429 (at most `limit` times); every answer's status and readable Retry-After, in order.
FETCH_UNTIL_429_JS = """
const [url, init, limit, done] = arguments;
(async () => {
  const seen = [];
  for (let i = 0; i < limit; i++) {
    const response = await fetch(url, init);
    seen.push({status: response.status, retryAfter: response.headers.get('Retry-After'),
               body: response.status === 429 ? await response.json() : (await response.text(), null)});
    if (response.status === 429) break;
  }
  return seen;
})().then(done, (error) => done([{error: String(error)}]));
"""


def test_9_rate_limited_fetch(browser, spa, fake, workdir):
    config = procore_config(fake, [spa.origin], exposedHeaders=["Total"])
    config["limits"] = {"rateLimit": {"key": "origin", "rate": 0.2, "burst": 3}}
    proxy = Proxy(config, workdir, "rate-limit")
    try:
        browser.get(f"{spa.origin}/__test__/blank.html")
        token = fake.issue_token()
        init = {"headers": {"Authorization": f"Bearer {token}", "Procore-Company-Id": str(COMPANY["id"])}}
        seen_before = len(fake.requests)
        seen = browser.execute_async_script(FETCH_UNTIL_429_JS, f"{proxy.url}{LIST}", init, 10)
        statuses = [entry.get("status") for entry in seen]
        assert statuses == [200, 200, 200, 429], seen  # the burst, then the refusal (preflights spent nothing)
        refused = seen[-1]
        assert refused["retryAfter"] is not None and int(refused["retryAfter"]) >= 1, refused
        assert int(refused["retryAfter"]) <= 5, refused  # one token per 5 s
        assert refused["body"]["error"] == "rate_limited", refused
        assert len(fake.requests) - seen_before == 3, "the refused request never reached the upstream"
        lines = proxy.log_lines("status=429", "error=rate_limited", "limit=rate")
        assert len(lines) == 1, proxy.log()
    finally:
        proxy.stop()

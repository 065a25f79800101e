// The implicit-grant SPA: sign in, read /me, list every page of projects. Configuration: window.SPA_CONFIG in
// index.html, each key overridable by a query parameter of the same name.
"use strict";

(() => {
  const STATE_KEY = "procore-implicit-state";
  const params = new URLSearchParams(location.search);
  const config = { ...window.SPA_CONFIG };
  for (const key of Object.keys(config)) {
    if (params.has(key)) config[key] = params.get(key);
  }
  const apiBase = config.api.replace(/\/+$/, "");
  const apiOrigin = new URL(apiBase).origin;
  // Procore compares redirect_uri with the registered one exactly: with no query parameters this is
  // http://localhost:3000/ when the folder is served at the root.
  const redirectUri = location.origin + location.pathname + location.search;

  const $ = (id) => document.getElementById(id);

  function setStatus(state, text) {
    const status = $("status");
    status.dataset.state = state;
    status.textContent = text;
  }

  function logRequest(method, url, outcome) {
    const item = document.createElement("li");
    item.textContent = `${method} ${url} → ${outcome}`;
    $("requests").append(item);
  }

  class ApiError extends Error {
    constructor(method, url, response, body) {
      const detail = body && typeof body === "object" ? (body.message || body.errors || body.error) : body;
      super(`${method} ${url} answered ${response.status}${detail ? ": " + JSON.stringify(detail) : ""}`);
      this.status = response.status;
      this.body = body;
      this.retryAfter = response.headers.get("Retry-After");
    }
  }

  // One API call through the proxy. Authorization (and Procore-Company-Id, and a JSON Content-Type) make
  // every call a preflighted CORS request; the proxy answers the preflight itself.
  async function api(method, url, { token, companyId, body } = {}) {
    const headers = { Authorization: `Bearer ${token}`, Accept: "application/json" };
    if (companyId) headers["Procore-Company-Id"] = String(companyId);
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        mode: "cors",
        credentials: config.credentials,
      });
    } catch (error) {
      logRequest(method, url, `blocked: ${error.message}`);
      throw new Error(`${method} ${url} failed: ${error.message}. The browser blocked the request or could ` +
        "not reach it; its console says why (for CORS: \"has been blocked by CORS policy\").");
    }
    const text = await response.text();
    let data = text;
    try { data = text ? JSON.parse(text) : null; } catch { /* not JSON: keep the text */ }
    logRequest(method, url, String(response.status));
    if (!response.ok) throw new ApiError(method, url, response, data);
    return { response, data };
  }

  // The URL of one relation in a Link header (RFC 8288), e.g. <https://…?page=2>; rel="next".
  function linkTarget(header, rel) {
    if (!header) return null;
    for (const part of header.split(/,(?=\s*<)/)) {
      const match = /^\s*<([^>]*)>(.*)$/s.exec(part);
      const rels = match && /;\s*rel\s*=\s*"?([^";]+)"?/i.exec(match[2]);
      if (rels && rels[1].toLowerCase().split(/\s+/).includes(rel)) return new URL(match[1], apiBase + "/").href;
    }
    return null;
  }

  function showLogin() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    const state = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    sessionStorage.setItem(STATE_KEY, state);
    const query = new URLSearchParams({
      response_type: "token",
      client_id: config.client_id,
      redirect_uri: redirectUri,
      state,
    });
    $("login-link").href = `${config.login.replace(/\/+$/, "")}/oauth/authorize?${query}`;
    $("redirect-uri").textContent = redirectUri;
    $("login-section").hidden = false;
    setStatus("signed-out", "Not signed in.");
  }

  async function showProjects(token) {
    setStatus("busy", "Reading your account…");
    const me = (await api("GET", `${apiBase}/rest/v1.0/me`, { token })).data;
    $("me-login").textContent = me.login;
    $("me-name").textContent = me.name;
    $("account").hidden = false;

    let companyId = config.company_id;
    let companyName = `#${companyId}`;
    if (!companyId) {
      const companies = (await api("GET", `${apiBase}/rest/v1.0/companies`, { token })).data;
      if (!companies.length) throw new Error("This user has no company.");
      companyId = companies[0].id;
      companyName = companies[0].name;
    }
    $("company-name").textContent = companyName;
    $("projects-section").hidden = false;

    const query = new URLSearchParams({ company_id: companyId, per_page: config.per_page });
    let next = `${apiBase}/rest/v1.0/projects?${query}`;
    let pages = 0;
    let count = 0;
    while (next) {
      setStatus("busy", `Reading page ${pages + 1} of projects…`);
      const { response, data } = await api("GET", next, { token, companyId });
      pages += 1;
      for (const project of data) {
        const row = document.createElement("tr");
        for (const value of [project.id, project.name]) {
          const cell = document.createElement("td");
          cell.textContent = value;
          row.append(cell);
        }
        $("projects").append(row);
        count += 1;
      }
      // Readable only because the proxy lists them in Access-Control-Expose-Headers.
      const unreadable = "(not readable: not exposed)";
      $("total").textContent = response.headers.get("Total") ?? unreadable;
      $("rate-remaining").textContent = response.headers.get("X-Rate-Limit-Remaining") ?? unreadable;
      $("pages").textContent = String(pages);
      next = linkTarget(response.headers.get("Link"), "next");
      if (next && new URL(next).origin !== apiOrigin) {
        // The proxy rewrites Procore's absolute Link URLs to itself; anything else would take the token elsewhere.
        throw new Error(`Link rel="next" points at ${new URL(next).origin}, not at the proxy ${apiOrigin}; ` +
          "not following it.");
      }
      if (pages >= 1000) throw new Error("More than 1000 pages: giving up.");
    }
    setStatus("done", `Loaded ${count} projects in ${pages} page(s).`);
  }

  function start() {
    $("requests").replaceChildren();
    if (!location.hash) {
      showLogin();
      return;
    }
    // The token arrives in the fragment: take it, then remove it from the address bar and history (RFC 6819
    // §4.4.2.2). It stays in memory only; a reload means signing in again.
    const fragment = new URLSearchParams(location.hash.slice(1));
    history.replaceState(null, "", location.pathname + location.search);
    const expectedState = sessionStorage.getItem(STATE_KEY);
    sessionStorage.removeItem(STATE_KEY);
    if (fragment.has("error")) {
      setStatus("error", `Sign-in failed: ${fragment.get("error")} ${fragment.get("error_description") ?? ""}`);
      return;
    }
    const token = fragment.get("access_token");
    if (!token) {
      showLogin();
      return;
    }
    if (!expectedState || fragment.get("state") !== expectedState) {
      setStatus("error", "The state in the redirect does not match the one this tab sent: token ignored.");
      return;
    }
    showProjects(token).catch((error) => setStatus("error", error.message));
  }

  start();
})();

/// The inspector's page, served from the binary: markup here, script and style in their own files
/// (``script``, ``style``) so the `Content-Security-Policy` can forbid anything inline. No data is in the
/// markup: the script fills the page from the event stream and the detail endpoint, with `textContent` only.
enum InspectorPage {
    /// The page, its links relative to `base` (one of the inspector's own constant paths).
    static func html(base: String) -> String {
        #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="corsproxy-inspector-base" content="\#(base)">
        <title>corsproxy inspector</title>
        <link rel="stylesheet" href="\#(base)/app.css">
        <script src="\#(base)/app.js" defer></script>
        </head>
        <body>
        <header class="bar">
          <h1>corsproxy <span class="subtle">inspector</span></h1>
          <p id="connection" class="connection" role="status">Connecting…</p>
        </header>
        <main>
          <section class="overview" aria-label="The last minute">
            <div class="stat"><span class="label">Requests per second</span><span id="rate" class="value">0</span></div>
            <div class="stat"><span class="label">Blocked, last minute</span><span id="blocked" class="value">0%</span></div>
            <div class="chart" id="chart" role="img" aria-label="Requests per second over the last minute, blocked share in red"></div>
          </section>
          <div class="filters" role="group" aria-label="Filters">
            <label>Origin <select id="filter-origin"><option value="">All origins</option></select></label>
            <label>CORS <select id="filter-cors">
              <option value="">Any verdict</option>
              <option value="allowed">allowed</option>
              <option value="blocked">blocked</option>
              <option value="would-block">would-block</option>
              <option value="no-origin">no-origin</option>
              <option value="no-response">no-response</option>
            </select></label>
            <label>Status <select id="filter-status">
              <option value="">Any status</option>
              <option value="2">2xx</option>
              <option value="3">3xx</option>
              <option value="4">4xx</option>
              <option value="5">5xx</option>
            </select></label>
            <span id="count" class="count" aria-live="polite"></span>
          </div>
          <div class="layout">
            <div class="list-wrap">
              <table class="list" aria-label="Recent exchanges">
                <thead><tr>
                  <th scope="col">Time</th><th scope="col">Method</th><th scope="col">Path</th>
                  <th scope="col" class="origin">Origin</th><th scope="col">CORS</th><th scope="col">Status</th>
                  <th scope="col" class="num duration">Duration</th><th scope="col" class="fault">Fault</th>
                </tr></thead>
                <tbody id="rows"></tbody>
              </table>
              <p id="empty" class="empty">No exchanges yet. Requests through the proxy appear here as they finish.</p>
              <p class="hint">↑ ↓ move between rows · Enter opens the details · Esc closes them</p>
            </div>
            <aside id="detail" class="detail" hidden tabindex="-1" aria-labelledby="detail-title"></aside>
          </div>
        </main>
        </body>
        </html>

        """#
    }
}
